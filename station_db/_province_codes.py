"""Province codes (Natural Earth HASC suffixes) and how other boundary files name provinces.

The shipped boundaries use Natural Earth's HASC codes ("CN.JS" -> "JS"). Official Chinese boundary
files instead carry the GB/T 2260 administrative code (``adcode`` 320000) or a Chinese name
("江苏省"); the tables here let a user's file be read without renaming anything.
Note the HASC quirks: Henan is "HE", Hubei "HU", Hebei "HB", Hainan "HA", Hunan "HN".
"""

from __future__ import annotations

PROVINCE_NAMES: dict[str, str] = {
    "SH": "Shanghai", "JS": "Jiangsu", "ZJ": "Zhejiang", "AH": "Anhui",
    "SD": "Shandong", "HE": "Henan", "HU": "Hubei", "JX": "Jiangxi", "FJ": "Fujian",
    "BJ": "Beijing", "TJ": "Tianjin", "HB": "Hebei", "SX": "Shanxi", "NM": "Inner Mongolia",
    "LN": "Liaoning", "JL": "Jilin", "HL": "Heilongjiang", "HN": "Hunan", "GD": "Guangdong",
    "GX": "Guangxi", "HA": "Hainan", "CQ": "Chongqing", "SC": "Sichuan", "GZ": "Guizhou",
    "YN": "Yunnan", "XZ": "Xizang", "SA": "Shaanxi", "GS": "Gansu", "QH": "Qinghai",
    "NX": "Ningxia", "XJ": "Xinjiang",
}
"""English province names by HASC suffix."""

PROVINCE_NAMES_ZH: dict[str, str] = {
    "SH": "上海", "JS": "江苏", "ZJ": "浙江", "AH": "安徽",
    "SD": "山东", "HE": "河南", "HU": "湖北", "JX": "江西", "FJ": "福建",
    "BJ": "北京", "TJ": "天津", "HB": "河北", "SX": "山西", "NM": "内蒙古",
    "LN": "辽宁", "JL": "吉林", "HL": "黑龙江", "HN": "湖南", "GD": "广东",
    "GX": "广西", "HA": "海南", "CQ": "重庆", "SC": "四川", "GZ": "贵州",
    "YN": "云南", "XZ": "西藏", "SA": "陕西", "GS": "甘肃", "QH": "青海",
    "NX": "宁夏", "XJ": "新疆",
}
"""Chinese (simplified) province names by HASC suffix, without the 省/市/自治区 suffix."""

ADCODE_PREFIX: dict[int, str] = {
    11: "BJ", 12: "TJ", 13: "HB", 14: "SX", 15: "NM", 21: "LN", 22: "JL", 23: "HL",
    31: "SH", 32: "JS", 33: "ZJ", 34: "AH", 35: "FJ", 36: "JX", 37: "SD",
    41: "HE", 42: "HU", 43: "HN", 44: "GD", 45: "GX", 46: "HA",
    50: "CQ", 51: "SC", 52: "GZ", 53: "YN", 54: "XZ",
    61: "SA", 62: "GS", 63: "QH", 64: "NX", 65: "XJ",
}
"""First two digits of the GB/T 2260 code (``adcode`` 320000) -> HASC suffix."""

_ZH_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")


def code_from_name(name: str) -> str | None:
    """HASC suffix for an English or Chinese province name ("Jiangsu", "江苏省"), else None."""
    text = name.strip()
    for suffix in _ZH_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    for code, zh in PROVINCE_NAMES_ZH.items():
        if text == zh:
            return code
    lowered = text.lower().replace(" province", "").replace(" sheng", "").strip()
    for code, en in PROVINCE_NAMES.items():
        if lowered == en.lower():
            return code
    aliases = {"inner mongol": "NM", "nei mongol": "NM", "tibet": "XZ", "xizang zizhiqu": "XZ"}
    return aliases.get(lowered)
