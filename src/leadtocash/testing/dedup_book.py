"""A seeded generator of a realistic customer book and of labelled duplicates (防撞单 / 查重).

Everything here is a plain function of a ``random.Random``, so the dedup benchmark
(``benchmarks/dedup.py``) and property tests draw from the same code; the ``*_strategy``
functions wrap them as Hypothesis strategies for your own tests.

* ``generate_company`` — one company: a Chinese name (region as a ``深圳市`` prefix, a
  ``（深圳）`` bracket or none, a 2–4 character brand, an industry, a legal form; sometimes a
  branch 分公司 or a group 集团) or an English one; phones (mobile or landline), an e-mail and a
  USCC with a valid check digit (python-stdnum).
* Duplicates of a company, by how the second rep typed it: ``identical``; ``format`` (full or
  half width, punctuation, spacing, case, another spelling of the legal form, the bracket
  moved); ``typo`` (one character substituted by a homophone, dropped, doubled or swapped);
  ``traditional`` (繁體); ``pinyin`` (``Shenzhen Tengxun Keji Co., Ltd.``). Each duplicate carries
  some of the contact data in other formats (``phone_variant``, ``email_variant``,
  ``uscc_variant``).
* Distinct companies that look alike (hard negatives): ``same_brand`` (腾讯科技 vs 腾讯音乐),
  ``other_region`` (腾讯科技（深圳） vs 腾讯科技（北京）), ``branch`` (a branch of the company),
  ``group`` (the brand's 集团), ``shared_phone`` (another company at the same switchboard), and
  ``unrelated``.

``FORMAT_KINDS`` are the duplicates exact keys must block; ``FUZZY_KINDS`` those only fuzzy or
variant matching can find (they warn).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

import attrs
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from leadtocash.errors import ValidationError
from leadtocash.fields import parse_phone
from leadtocash.testing.collision_strategies import to_full_width

__all__ = [
    "DISTINCT_KINDS",
    "DUPLICATE_KINDS",
    "FORMAT_KINDS",
    "FUZZY_KINDS",
    "BookCompany",
    "Record",
    "companies_strategy",
    "company_duplicate_strategy",
    "distinct_company",
    "duplicate_record",
    "email_variant",
    "format_name",
    "generate_company",
    "name_variant",
    "phone_variant",
    "record_of",
    "traditional",
    "uscc_variant",
    "valid_uscc",
]

Script = Literal["han", "latin"]

#: Duplicates the exact keys must block (same registered name, spelled otherwise).
FORMAT_KINDS: tuple[str, ...] = ("identical", "format")
#: Duplicates only fuzzy or variant matching finds (they warn).
FUZZY_KINDS: tuple[str, ...] = ("typo", "traditional", "pinyin")
DUPLICATE_KINDS: tuple[str, ...] = FORMAT_KINDS + FUZZY_KINDS
DISTINCT_KINDS: tuple[str, ...] = (
    "same_brand",
    "other_region",
    "branch",
    "group",
    "shared_phone",
    "unrelated",
)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_BRAND_CHARS = (
    "华腾讯阿里京东美团百度网易新浪金山龙凤天海洋江河星辰宏伟盛兴隆昌达通恒信诚德嘉瑞祥安泰康宁联合"
    "民光明创智慧云汇丰源博远鼎鑫润晨阳春秋宇宙航飞鹏跃锦绣佳优品惠众诺雅韵峰岭松柏桐青蓝紫红绿银铜"
    "铁钢石玉宝珠钻方圆正义忠孝仁和美丽富贵荣永久长城黄鹤凯旋胜利西北南中环球图大业万象千禧世纪时代"
    "未来先锋领卓越精英力量动感活健快乐幸福吉如意顺发旺财聚贤豪杰俊秀灵巧敏捷迅速稳坚固"
)
_INDUSTRIES = _split(
    "科技 网络科技 信息技术 电子商务 贸易 国际贸易 物流 供应链管理 建设工程 建筑工程 装饰工程 "
    "房地产开发 物业管理 投资管理 资产管理 企业管理咨询 文化传媒 广告 教育科技 医疗器械 医药 "
    "生物科技 新能源 环保科技 机械设备 电气 自动化设备 汽车销售 汽车服务 餐饮管理 酒店管理 食品 "
    "农业发展 服装 纺织 化工 新材料 电子 软件 数据科技 智能科技 人力资源 旅游 实业 家具 印刷 包装 "
    "音乐 游戏 影视 金融服务 融资租赁 保险代理 安防科技 通信技术 光电科技 半导体 精密制造 "
    "计算机系统 电力工程"
)
_CITIES = _split(
    "北京 上海 天津 重庆 深圳 广州 杭州 南京 苏州 成都 武汉 西安 长沙 郑州 青岛 大连 宁波 厦门 "
    "无锡 合肥 福州 济南 昆明 沈阳 珠海 佛山 东莞 温州 常州 南通"
)
_AREA_CODES = {
    "北京": "010", "上海": "021", "天津": "022", "重庆": "023", "深圳": "0755", "广州": "020",
    "杭州": "0571", "南京": "025", "苏州": "0512", "成都": "028", "武汉": "027", "西安": "029",
    "长沙": "0731", "郑州": "0371", "青岛": "0532", "大连": "0411", "宁波": "0574",
    "厦门": "0592", "无锡": "0510", "合肥": "0551", "福州": "0591", "济南": "0531",
    "昆明": "0871", "沈阳": "024", "珠海": "0756", "佛山": "0757", "东莞": "0769",
    "温州": "0577", "常州": "0519", "南通": "0513",
}  # fmt: skip
_REGION_CODES = ("110000", "310000", "120000", "500000", "440300", "440100", "330100", "320100")
_CHINESE_FORMS = ("有限公司", "有限责任公司", "股份有限公司")
_CHINESE_FORM_SPELLINGS = ("有限公司", "有限责任公司", "股份有限公司", "公司", "")
_ENGLISH_WORDS = _split(
    "alpha apex atlas aurora beacon bright cedar crest crown delta eagle ember evergreen falcon "
    "frontier galaxy golden granite harbor horizon jade keystone lotus maple meridian nova oasis "
    "orient pacific phoenix pinnacle prime quantum radiant sapphire sierra silver solar sterling "
    "summit sunrise titan trident unity vanguard vertex vista zenith"
)
_ENGLISH_INDUSTRIES = (
    "Trading", "Technology", "Logistics", "Consulting", "Electronics", "Pharmaceuticals",
    "Software", "Materials", "Industries", "Holdings", "Foods", "Apparel", "Energy", "Media",
)  # fmt: skip
_ENGLISH_FORMS = ("Co., Ltd.", "Limited", "Inc.", "LLC", "Pte. Ltd.", "GmbH", "Corporation")
_ENGLISH_FORM_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Co., Ltd.": (
        "Co., Ltd.",
        "Co.,Ltd.",
        "Co. Ltd",
        "CO., LTD",
        "Company Limited",
        "Co., Limited",
    ),
    "Limited": ("Limited", "Ltd.", "Ltd", "LIMITED"),
    "Inc.": ("Inc.", "Inc", "Incorporated", "INC."),
    "LLC": ("LLC", "L.L.C.", "llc"),
    "Pte. Ltd.": ("Pte. Ltd.", "Pte Ltd", "PTE. LTD."),
    "GmbH": ("GmbH", "GMBH", "gmbh"),
    "Corporation": ("Corporation", "Corp.", "Corp", "CORPORATION"),
}
_MOBILE_PREFIXES = _split(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 176 177 178 180 181 "
    "182 183 185 186 187 188 189 191 198 199"
)
_TRADITIONAL = dict(
    zip(
        "万业东丰丽义乐云产众优伟传体兴农凤凯创务动医华厦发咨团国图圆坚备宁宝实导岛岭峰广庆应开恒戏据"
        "数无时术机来杰气汇汉济润温游灵环电疗稳筑红纪纺织络统绣绿网联胜腾苏荣药蓝装视计讯设诚询诺财责"
        "贤贵贸赁资跃车软达远连郑里钢钻铁铜银链销锋锡锦长门阳际险韵顺领飞饮饰鹏鹤黄龙",
        "萬業東豐麗義樂雲產衆優偉傳體興農鳳凱創務動醫華廈發諮團國圖圓堅備寧寶實導島嶺峯廣慶應開恆戲據"
        "數無時術機來傑氣匯漢濟潤溫遊靈環電療穩築紅紀紡織絡統繡綠網聯勝騰蘇榮藥藍裝視計訊設誠詢諾財責"
        "賢貴貿賃資躍車軟達遠連鄭裏鋼鑽鐵銅銀鏈銷鋒錫錦長門陽際險韻順領飛飲飾鵬鶴黃龍",
        strict=True,
    )
)
_PINYIN = dict(
    zip(
        "万上世业东中丰丽久义乐云产京人仁代件任份企众优伟传体佛佳供俊保信健先光公兴具农凤凯分创利制刷"
        "力务动包化北医千半华卓南博印厦发司合吉告和咨品售商嘉器团固国图圆地圳坚城备大天如媒子孝宁宇安"
        "宏宙宝实家密富导展山岛岭峰州工巧市常幸广庆应店度康建开影德忠快恒息惠意感慧戏成房技投据捷敏教"
        "数文料新方旅旋无时旺昆昌明易星春晨智有服未术机材来杭杰松柏桐械正武民气永汇汉江汽沈沙河波泰洋"
        "津活流济浪海润深温游源灵物玉环珠球理瑞生电疗百盛石祥福禧秀秋科租程稳筑算管精系紫红纪纺织络统"
        "绣绿网美联聚股肥育胜能腾自航苏英荣药莞蓝融装西视计讯设诚询诺象豪财责贤贵贸赁资越跃车软辰达迅"
        "远连通速造郑都酒里重量金鑫钢钻铁铜银链销锋锡锦长门防阳阿际限险隆雅集青音韵顺领飞食餐饮饰鹏鹤"
        "黄鼎龙",
        _split(
            "wan shang shi ye dong zhong feng li jiu yi le yun chan jing ren ren dai jian ren fen "
            "qi zhong you wei chuan ti fo jia gong jun bao xin jian xian guang gong xing ju nong "
            "feng kai fen chuang li zhi shua li wu dong bao hua bei yi qian ban hua zhuo nan bo "
            "yin sha fa si he ji gao he zi pin shou shang jia qi tuan gu guo tu yuan di zhen jian "
            "cheng bei da tian ru mei zi xiao ning yu an hong zhou bao shi jia mi fu dao zhan "
            "shan dao ling feng zhou gong qiao shi chang xing guang qing ying dian du kang jian "
            "kai ying de zhong kuai heng xi hui yi gan hui xi cheng fang ji tou ju jie min jiao "
            "shu wen liao xin fang lv xuan wu shi wang kun chang ming yi xing chun chen zhi you "
            "fu wei shu ji cai lai hang jie song bai tong xie zheng wu min qi yong hui han jiang "
            "qi shen sha he bo tai yang jin huo liu ji lang hai run shen wen you yuan ling wu yu "
            "huan zhu qiu li rui sheng dian liao bai sheng shi xiang fu xi xiu qiu ke zu cheng "
            "wen zhu suan guan jing xi zi hong ji fang zhi luo tong xiu lv wang mei lian ju gu "
            "fei yu sheng neng teng zi hang su ying rong yao guan lan rong zhuang xi shi ji xun "
            "she cheng xun nuo xiang hao cai ze xian gui mao lin zi yue yue che ruan chen da xun "
            "yuan lian tong su zao zheng dou jiu li zhong liang jin xin gang zuan tie tong yin "
            "lian xiao feng xi jin zhang men fang yang a ji xian xian long ya ji qing yin yun "
            "shun ling fei shi can yin shi peng he huang ding long"
        ),
        strict=True,
    )
)
_HOMOPHONES: dict[str, tuple[str, ...]] = {}
for _char, _syllable in _PINYIN.items():
    _HOMOPHONES[_char] = tuple(c for c, s in _PINYIN.items() if s == _syllable and c != _char)
_SPACES = (" ", "  ", "\u3000")
_WRAPPERS = (("", ""), ("“", "”"), ('"', '"'), ("《", "》"), ("", "."), ("*", ""))
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@attrs.frozen
class BookCompany:
    """One real company: the parts of its registered name and its contact data.

    ``phones`` are national numbers as digits (``13812345678``, ``075588886666``); the
    record's spelling of them comes from ``phone_variant``.
    """

    script: Script
    brand: str
    industry: str
    legal: str
    region: str | None = None
    region_style: Literal["prefix", "bracket", "none"] = "none"
    branch_city: str | None = None
    group: bool = False
    uscc: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @property
    def registered_name(self) -> str:
        """The name as registered (``深圳市宏达贸易有限公司``, ``Apex Trading Co., Ltd.``)."""
        if self.script == "latin":
            region = f" ({self.region})" if self.region else ""
            return f"{self.brand} {self.industry}{region} {self.legal}"
        core = self.brand + ("集团" if self.group else self.industry)
        if self.region_style == "prefix" and self.region:
            core = f"{self.region}市{core}"
        bracket = f"（{self.region}）" if self.region_style == "bracket" and self.region else ""
        branch = f"{self.branch_city}分公司" if self.branch_city else ""
        return f"{core}{bracket}{self.legal}{branch}"


@attrs.frozen
class Record:
    """A customer record as a rep typed it."""

    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    uscc: str | None = None


# -- contact data ------------------------------------------------------------------------------


def valid_uscc(rng: random.Random) -> str:
    """A unified social credit code with a valid GB 32100-2015 check digit."""
    org = "".join(rng.choice(_USCC_ALPHABET) for _ in range(9))
    body = "91" + rng.choice(_REGION_CODES) + org
    return body + str(stdnum_uscc.calc_check_digit(body))


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random, city: str) -> str:
    code = _AREA_CODES.get(city, "010")
    for length in (7, 6) if len(code) == 4 else (7,):  # 8 digits, or 7 in some cities
        number = code + str(rng.randrange(2, 9)) + f"{rng.randrange(10**length):0{length}d}"
        try:
            parse_phone(number)
        except ValidationError:
            continue
        return number
    return _mobile(rng)


def phone_variant(rng: random.Random, national: str) -> str:
    """``national`` (``13812345678`` or ``01088886666``) in one of the formats people type."""
    if national.startswith("1"):  # mobile
        a, b, c = national[:3], national[3:7], national[7:]
        formats: tuple[str, ...] = (
            national, f"{a} {b} {c}", f"{a}-{b}-{c}", f"+86 {a} {b} {c}", f"+86-{a}-{b}-{c}",
            f"+86{national}", f"0086 {national}", f"(+86) {a} {b} {c}", f"{a}.{b}.{c}",
            to_full_width(national), f"86{national}", f" {national} ",
        )  # fmt: skip
        return rng.choice(formats)
    code_len = 3 if national[1] in "12" else 4
    area, local = national[:code_len], national[code_len:]
    half = len(local) // 2
    ext = f"{rng.randrange(1, 999)}"
    formats_landline = (
        f"{area}-{local}", f"({area}) {local[:half]} {local[half:]}", f"{area} {local}",
        f"+86 {area[1:]} {local[:half]} {local[half:]}", f"+86-{area[1:]}-{local}",
        f"{area}-{local}转{ext}", f"{area}-{local}-{ext}", f"{area} {local} ext. {ext}",
        f"0086-{area[1:]}-{local}", f"({area}){local}", f"+86 (0){area[1:]} {local}",
    )  # fmt: skip
    return rng.choice(formats_landline)


def email_variant(rng: random.Random, email: str) -> str:
    """``email`` with other case, a plus tag or surrounding spaces."""
    local, _, domain = email.partition("@")
    how = rng.randrange(5)
    if how == 0:
        return email
    if how == 1:
        return f"{local.capitalize()}@{domain.upper()}"
    if how == 2:
        return f"{local}+{rng.choice(('crm', 'sales', 'expo2025', 'web'))}@{domain}"
    if how == 3:
        return f"  {email.upper()} "
    return f"{local.title()}+CRM@{domain.title()}"


def uscc_variant(rng: random.Random, code: str) -> str:
    """``code`` in lower case, grouped with spaces or dashes, or as is."""
    how = rng.randrange(4)
    if how == 0:
        return code
    if how == 1:
        return code.lower()
    sep = " " if how == 2 else "-"
    return sep.join((code[:2], code[2:8], code[8:17], code[17:]))


# -- companies ---------------------------------------------------------------------------------


def _brand(rng: random.Random) -> str:
    size = rng.choices((2, 3, 4), weights=(60, 35, 5))[0]
    return "".join(rng.choice(_BRAND_CHARS) for _ in range(size))


def _english_brand(rng: random.Random) -> str:
    return " ".join(w.capitalize() for w in rng.sample(_ENGLISH_WORDS, rng.choice((1, 2, 2))))


def _contacts(rng: random.Random, region: str | None) -> dict[str, object]:
    city = region or rng.choice(_CITIES)
    count = rng.choices((1, 2), weights=(70, 30))[0]
    phones = tuple(
        _mobile(rng) if rng.random() < 0.6 else _landline(rng, city) for _ in range(count)
    )
    emails: tuple[str, ...] = ()
    if rng.random() < 0.5:
        local = rng.choice(("sales", "info", "contact", "service", "hr", "admin"))
        host = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(4, 9)))
        emails = (f"{local}@{host}.{rng.choice(('com', 'cn', 'com.cn', 'net'))}",)
    uscc = valid_uscc(rng) if rng.random() < 0.6 else None
    return {"phones": phones, "emails": emails, "uscc": uscc}


def generate_company(rng: random.Random, *, brand: str | None = None) -> BookCompany:
    """One random company (8 % English-named); ``brand`` reuses a Chinese brand."""
    if brand is None and rng.random() < 0.08:
        region = (
            rng.choice(("China", "Shanghai", "Shenzhen", "Asia")) if rng.random() < 0.2 else None
        )
        return BookCompany(
            "latin",
            _english_brand(rng),
            rng.choice(_ENGLISH_INDUSTRIES),
            rng.choice(_ENGLISH_FORMS),
            region=region,
            **_contacts(rng, None),  # type: ignore[arg-type]
        )
    style = rng.choices(("prefix", "bracket", "none"), weights=(45, 15, 40))[0]
    region = rng.choice(_CITIES) if style != "none" else None
    return BookCompany(
        "han",
        brand or _brand(rng),
        rng.choice(_INDUSTRIES),
        rng.choices(_CHINESE_FORMS, weights=(80, 10, 10))[0],
        region=region,
        region_style=style,  # type: ignore[arg-type]
        branch_city=rng.choice(_CITIES) if rng.random() < 0.04 else None,
        group=rng.random() < 0.02,
        **_contacts(rng, region),  # type: ignore[arg-type]
    )


# -- name spellings ----------------------------------------------------------------------------


def _spaced(rng: random.Random, text: str) -> str:
    if rng.random() < 0.7:
        return text
    return "".join(ch + (rng.choice(_SPACES) if rng.random() < 0.3 else "") for ch in text)


def _han_spelling(rng: random.Random, company: BookCompany, core: str) -> str:
    """``core`` (brand + industry, maybe changed) with region, legal form and branch around it."""
    legal = (
        rng.choice(_CHINESE_FORM_SPELLINGS) if company.legal != "股份有限公司" else company.legal
    )
    legal = legal if company.legal in _CHINESE_FORMS else company.legal
    if company.region_style == "prefix" and company.region:
        core = f"{company.region}市{core}"
    branch = f"{company.branch_city}分公司" if company.branch_city else ""
    if branch and legal == "公司":
        legal = "有限公司"  # in 宏达贸易公司北京分公司 the 公司 is not a legal form that goes
    core = _spaced(rng, core)
    if company.region_style == "bracket" and company.region:
        open_, close = rng.choice((("（", "）"), ("(", ")"), ("【", "】"), ("[", "]")))
        region = f"{open_}{company.region}{close}"
        placement = rng.randrange(3) if not branch else 0
        if placement == 0:
            text = f"{core}{region}{legal}{branch}"
        elif placement == 1:
            text = f"{core}{company.region}{legal}{branch}"
        else:
            text = f"{core}{legal}{region}"
    else:
        text = f"{core}{rng.choice(('', ' ')) if legal else ''}{legal}{branch}"
    mask = [rng.random() < 0.3 for _ in text] if rng.random() < 0.3 else None
    if mask is not None:
        text = to_full_width(text, mask)
    before, after = rng.choice(_WRAPPERS)
    return before + text + after


def _latin_spelling(rng: random.Random, company: BookCompany, brand: str) -> str:
    words = [*brand.split(), company.industry]
    if company.region:
        words.append(f"({company.region})" if rng.random() < 0.5 else company.region)
    joiner = rng.choice((" ", " ", "  ", "-", "\u3000"))
    text = joiner.join(words)
    form = rng.choice(_ENGLISH_FORM_SPELLINGS.get(company.legal, (company.legal,)))
    text += rng.choice((" ", ", ", ",")) + form
    case = rng.randrange(4)
    if case == 1:
        text = text.upper()
    elif case == 2:
        text = text.lower()
    if rng.random() < 0.1:
        text = "The " + text
    if rng.random() < 0.15:
        text = to_full_width(text)
    return text


def _core(company: BookCompany) -> str:
    return company.brand + ("集团" if company.group else company.industry)


def format_name(rng: random.Random, company: BookCompany) -> str:
    """The registered name spelled another way; exact name keys must still match it."""
    if company.script == "latin":
        return _latin_spelling(rng, company, company.brand)
    return _han_spelling(rng, company, _core(company))


def _typo(rng: random.Random, text: str, alphabet: str) -> str:
    i = rng.randrange(len(text))
    how = rng.randrange(4)
    if how == 0:  # substitute, by a homophone when there is one
        options = _HOMOPHONES.get(text[i]) or tuple(alphabet)
        return text[:i] + rng.choice([c for c in options if c != text[i]] or ["某"]) + text[i + 1 :]
    if how == 1 and len(text) > 3:  # drop
        return text[:i] + text[i + 1 :]
    if how == 2:  # double
        return text[: i + 1] + text[i:]
    j = min(i, len(text) - 2)  # swap neighbours
    swapped = text[:j] + text[j + 1] + text[j] + text[j + 2 :]
    return swapped if swapped != text else text[:i] + "某" + text[i + 1 :]


def traditional(text: str) -> str:
    """``text`` with the generator's simplified characters in traditional form."""
    return "".join(_TRADITIONAL.get(ch, ch) for ch in text)


def _pinyin(text: str) -> str:
    return "".join(_PINYIN.get(ch, ch) for ch in text)


def name_variant(rng: random.Random, company: BookCompany, kind: str) -> str:
    """How a second rep might type ``company``'s name: one of ``DUPLICATE_KINDS``."""
    if kind == "identical":
        return company.registered_name
    if kind == "format":
        return format_name(rng, company)
    if kind == "typo":
        if company.script == "latin":
            letters = "abcdefghijklmnopqrstuvwxyz"
            words = company.brand.split()
            w = rng.randrange(len(words))
            if len(words[w]) >= 4:
                words[w] = _typo(rng, words[w], letters)
                return _latin_spelling(rng, company, " ".join(words))
            return _latin_spelling(rng, company, company.brand + rng.choice(letters))
        return _han_spelling(rng, company, _typo(rng, _core(company), _BRAND_CHARS))
    if kind == "traditional":
        if company.script == "latin":
            return format_name(rng, company)
        return traditional(format_name(rng, company))
    if kind == "pinyin":
        if company.script == "latin":
            return format_name(rng, company)
        words = [_pinyin(company.brand).capitalize(), _pinyin(_core(company)[len(company.brand) :])]
        if company.region:
            words.insert(0, _pinyin(company.region).capitalize())
        if company.branch_city:
            words.append(_pinyin(company.branch_city).capitalize() + " Branch")
        return " ".join(words) + rng.choice((" Co., Ltd.", " Co.,Ltd", " Limited", " CO., LTD."))
    raise ValueError(f"unknown duplicate kind {kind!r}")


def record_of(rng: random.Random, company: BookCompany, name: str) -> Record:
    """A record of ``company`` under ``name``, with some of its contact data as typed."""
    phones = tuple(phone_variant(rng, p) for p in company.phones if rng.random() < 0.8)
    emails = tuple(email_variant(rng, e) for e in company.emails if rng.random() < 0.6)
    uscc = company.uscc if company.uscc and rng.random() < 0.5 else None
    return Record(name, phones, emails, uscc_variant(rng, uscc) if uscc else None)


def duplicate_record(rng: random.Random, company: BookCompany, kind: str) -> Record:
    """A second record of the same company, its name spelled as ``kind`` says."""
    return record_of(rng, company, name_variant(rng, company, kind))


def distinct_company(rng: random.Random, company: BookCompany, kind: str) -> BookCompany:
    """Another company that looks like ``company`` (one of ``DISTINCT_KINDS``)."""
    fresh = generate_company(rng, brand=company.brand if company.script == "han" else None)
    if company.script == "latin" or kind == "unrelated":
        return generate_company(rng) if kind == "unrelated" else fresh
    if kind == "same_brand":
        other = [i for i in _INDUSTRIES if i != company.industry]
        return attrs.evolve(company, industry=rng.choice(other), group=False, branch_city=None,
                            uscc=fresh.uscc, phones=fresh.phones, emails=fresh.emails)  # fmt: skip
    if kind == "other_region":
        cities = [c for c in _CITIES if c != company.region]
        style = company.region_style if company.region_style != "none" else "bracket"
        return attrs.evolve(company, region=rng.choice(cities), region_style=style,
                            uscc=fresh.uscc, phones=fresh.phones, emails=fresh.emails)  # fmt: skip
    if kind == "branch":
        cities = [c for c in _CITIES if c != company.branch_city]
        return attrs.evolve(company, branch_city=rng.choice(cities),
                            uscc=fresh.uscc, phones=fresh.phones, emails=fresh.emails)  # fmt: skip
    if kind == "group":
        return attrs.evolve(company, group=not company.group, branch_city=None,
                            uscc=fresh.uscc, phones=fresh.phones, emails=fresh.emails)  # fmt: skip
    if kind == "shared_phone":
        return attrs.evolve(fresh, phones=company.phones[:1])
    raise ValueError(f"unknown distinct kind {kind!r}")


# -- Hypothesis strategies ---------------------------------------------------------------------


def _seeded(build: Callable[[random.Random], object]) -> st.SearchStrategy[object]:
    return st.integers(0, 2**32 - 1).map(lambda seed: build(random.Random(seed)))


def companies_strategy() -> st.SearchStrategy[BookCompany]:
    """Companies as ``generate_company`` makes them."""
    return _seeded(generate_company)  # type: ignore[return-value]


def company_duplicate_strategy(
    kinds: tuple[str, ...] = DUPLICATE_KINDS,
) -> st.SearchStrategy[tuple[BookCompany, str, str]]:
    """``(company, kind, name)``: a company and a second spelling of its name of ``kind``."""

    def build(rng: random.Random) -> tuple[BookCompany, str, str]:
        company = generate_company(rng)
        kind = rng.choice(kinds)
        return company, kind, name_variant(rng, company, kind)

    return _seeded(build)  # type: ignore[return-value]
