"""Administrative regions at the start of company names, in Han characters and in pinyin.

``strip_region`` drops them (``广东省深圳市宏达贸易`` → ``宏达贸易``, ``shenzhenhongdatrading`` →
``hongdatrading``) when enough of the name remains, so blocking keys and pinyin comparisons
look at the brand rather than at the city every company in it shares.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "LATIN_REGIONS",
    "REGION_ENDINGS",
    "REGION_PREFIXES",
    "region_steps",
    "strip_region",
    "without_region_ending",
]

_HAN = (
    "内蒙古 哈尔滨 石家庄 黑龙江 上海 东莞 中国 中山 临沂 云南 佛山 保定 兰州 "
    "北京 南京 南宁 南昌 南通 厦门 台州 台湾 合肥 吉林 唐山 嘉兴 四川 大连 天津 "
    "太原 宁夏 宁波 安徽 宜昌 山东 山西 常州 广东 广州 广西 徐州 惠州 成都 扬州 "
    "新疆 无锡 昆明 杭州 株洲 武汉 江苏 江西 沈阳 河北 河南 泉州 洛阳 济南 浙江 "
    "海南 海口 深圳 温州 湖北 湖南 漳州 潍坊 澳门 烟台 珠海 甘肃 福州 福建 绍兴 "
    "芜湖 苏州 襄阳 西安 西藏 贵州 贵阳 辽宁 郑州 重庆 金华 长春 长沙 陕西 青岛 "
    "青海 香港"
)
_LATIN = (
    "heilongjiang shijiazhuang changchun changzhou chongqing guangdong guangzhou neimenggu "
    "xianggang xiangyang zhangzhou zhengzhou zhongshan changsha dongguan hangzhou hongkong "
    "liaoning nanchang quanzhou shandong shanghai shaoxing shenyang shenzhen tangshan xinjiang "
    "yangzhou zhejiang zhongguo baoding beijing chengdu guangxi guiyang guizhou haerbin huizhou "
    "jiangsu jiangxi jiaxing kunming lanzhou luoyang nanjing nanning nantong ningxia qingdao "
    "qinghai sichuan taiyuan taizhou tianjin weifang wenzhou yichang zhuzhou dalian foshan "
    "fujian fuzhou haikou hainan jinhua ningbo shanxi suzhou taiwan xiamen xizang xuzhou yantai "
    "yunnan zhuhai anhui aomen china gansu hebei hefei henan hubei hunan jilin jinan linyi "
    "macau wuhan asia wuhu wuxi xian"
)


def _longest_first(text: str) -> tuple[str, ...]:
    return tuple(sorted(set(text.split()), key=lambda word: (-len(word), word)))


#: Regions (provinces, big cities, 中国) dropped from the start of a Han name, longest first.
REGION_PREFIXES: tuple[str, ...] = _longest_first(_HAN)
#: The same in pinyin, plus china/hongkong/macau/asia, for Latin names, longest first.
LATIN_REGIONS: tuple[str, ...] = _longest_first(_LATIN)
#: What may follow a Han region name (深圳市, 广东省, 宁夏回族自治区 is not covered).
REGION_ENDINGS = ("特别行政区", "自治区", "省", "市", "区", "县")
_MIN_HAN = 2
_MIN_LATIN = 6


def _is_latin(name: str) -> bool:
    return name[:1].isascii()


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(word) for word in words)


# Alternatives are tried in order, longest first, as a loop over the tuples would.
_HAN_REGION = re.compile(
    f"(?P<region>{_alternation(REGION_PREFIXES)})(?:{_alternation(REGION_ENDINGS)})?"
)
_LATIN_REGION = re.compile(f"(?:{_alternation(LATIN_REGIONS)})")


def _strip_one(name: str) -> str:
    # ``str.startswith`` with the whole tuple answers "no region" (most names) in C, before
    # the regular expression tries its alternatives one by one.
    if _is_latin(name):
        if not name.startswith(LATIN_REGIONS):
            return name
        found = _LATIN_REGION.match(name)
    else:
        if not name.startswith(REGION_PREFIXES):
            return name
        found = _HAN_REGION.match(name)
    return name if found is None else name[found.end() :]


@lru_cache(maxsize=65536)
def strip_region(normalized: str) -> str:
    """``normalized`` without its leading regions, if at least 2 Han or 6 Latin characters
    remain (``北京银行`` stays whole)."""
    return region_steps(normalized)[-1]


@lru_cache(maxsize=65536)
def region_steps(normalized: str) -> tuple[str, ...]:
    """``normalized``, then it without each leading region in turn, while at least 2 Han or 6
    Latin characters remain (``天津市南通聚信`` → ``南通聚信`` → ``聚信``): the last is
    :func:`strip_region`'s answer."""
    steps = [normalized]
    minimum = _MIN_LATIN if _is_latin(normalized) else _MIN_HAN
    while True:
        rest = _strip_one(steps[-1])
        if rest == steps[-1] or len(rest) < minimum:
            return tuple(steps)
        steps.append(rest)


def without_region_ending(name: str) -> str:
    """``深圳市宏达`` → ``深圳宏达`` (English names say "Shenzhen Hongda", not "Shenzhenshi")."""
    if not name.startswith(REGION_PREFIXES):
        return name
    found = _HAN_REGION.match(name)
    if found is None:  # pragma: no cover - a prefix in the tuple always matches
        return name
    return found.group("region") + name[found.end() :]
