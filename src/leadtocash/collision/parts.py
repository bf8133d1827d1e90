"""The parts of a normalized company name: region, brand (字号), industry (行业) and the rest.

A Chinese registered name is built as region + brand + industry + legal form
(企业名称登记管理规定: 行政区划 + 字号 + 行业 + 组织形式), with a bracketed region, a group
(集团) or a branch (分公司) sometimes after it. Only the brand tells two companies of one city
and trade apart: ``腾讯科技`` and ``腾讯音乐`` share the brand but not the business,
``宏达贸易`` and ``宏远贸易`` share the business but not the brand. Whole-name similarity sees
mostly the shared parts, so the fuzzy check compares the parts (``name_parts``) instead.

The industry is found from a vocabulary of common industry words (``INDUSTRY_WORDS``, Chinese
and English): the first one that starts after at least two characters of brand, and the words
that directly follow it. A name with no known industry word has no parts (``None``), and is
compared whole.
"""

from __future__ import annotations

import re
from functools import lru_cache

import attrs

from leadtocash.collision.regions import strip_region

__all__ = ["INDUSTRY_WORDS", "NameParts", "name_parts"]

_CHINESE = (
    "科技 技术 网络 信息 电子 电子商务 商务 贸易 商贸 工贸 国际贸易 国际 进出口 实业 投资 管理 "
    "咨询 "
    "企业管理 资产管理 投资管理 文化 传媒 传播 广告 教育 培训 医疗 器械 医疗器械 医药 药业 制药 "
    "生物 能源 新能源 环保 环境 机械 设备 电气 电器 自动化 汽车 销售 服务 餐饮 酒店 食品 农业 "
    "发展 服装 服饰 纺织 化工 材料 新材料 建材 软件 数据 数字 智能 人力资源 旅游 家具 家居 印刷 "
    "包装 音乐 游戏 影视 娱乐 金融 融资租赁 租赁 保险 代理 安防 通信 光电 半导体 精密 制造 计算机 "
    "系统 电力 工程 建设 建筑 装饰 装修 房地产 开发 物业 置业 物流 供应链 运输 仓储 快递 货运 控股 "
    "集团 钢铁 五金 塑料 橡胶 玻璃 陶瓷 石油 矿业 能源 水务 燃气 园林 绿化 畜牧 水产 茶业 酒业 "
    "饮料 粮油 商业 百货 超市 检测 认证 仪器 仪表 照明 设计 规划 装备 工业 健康 养老 体育 动漫 "
    "出版 会展 展览 营销 策划 劳务 人才 财务 会计 税务 法律 知识产权 电池 光伏 芯片 集成电路 "
    "微电子 光学 激光 机器人 航空 船舶 航运 互联网 物联网 云计算 大数据"
)
_ENGLISH = (
    "trading trade technology technologies tech logistics consulting consultants electronics "
    "electronic pharmaceuticals pharmaceutical pharma software materials industries industrial "
    "holdings holding foods food apparel energy media group international services service "
    "solutions systems manufacturing engineering capital investment investments ventures "
    "enterprises resources development design global networks network digital biotech medical "
    "healthcare chemicals chemical automotive construction properties property realty"
)

#: Industry words (Chinese and case-folded English) that end a brand, longest first.
INDUSTRY_WORDS: tuple[str, ...] = tuple(
    sorted(set(_CHINESE.split()) | set(_ENGLISH.split()), key=lambda w: (-len(w), w))
)
_WORD = re.compile("|".join(re.escape(word) for word in INDUSTRY_WORDS))
_MIN_BRAND = 2


@attrs.frozen
class NameParts:
    """A normalized name cut into ``region`` + ``brand`` + ``industry`` + ``rest``.

    ``rest`` is what follows the industry: a bracketed region moved to the end, a branch
    (``北京分公司``), a qualifier. Concatenated, the four give the name back. ``trade`` is the
    industry's words with English plurals made singular (``technologies`` → ``technology``),
    what two names are compared by.
    """

    region: str
    brand: str
    industry: str
    rest: str
    trade: tuple[str, ...] = ()


def _singular(word: str) -> str:
    if not word.isascii():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def name_parts(normalized: str) -> NameParts | None:
    """The parts of a *normalized* name, or None when no known industry word follows a brand
    of at least two characters (``宏达网络科技深圳`` → ``宏达`` + ``网络科技`` + ``深圳``)."""
    core = strip_region(normalized)
    found = _WORD.search(core, _MIN_BRAND)
    if found is None:
        return None
    start = end = found.start()
    words: list[str] = []
    while (word := _WORD.match(core, end)) is not None and word.end() > end:
        words.append(_singular(word.group()))
        end = word.end()
    region = normalized[: len(normalized) - len(core)]
    return NameParts(region, core[:start], core[start:end], core[end:], tuple(words))
