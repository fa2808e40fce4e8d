"""The reporting units the demo generates data for, and what is known about each real county."""

from __future__ import annotations

from dataclasses import dataclass

from etl.towns import TOWNS

__all__ = ["BUREAU_OPENED", "GENERIC_TOWNS", "JINZHONG_UNITS", "POPULATION_10K", "RETIRED_CODES", "TOWNS",
           "UnitSpec"]


@dataclass(frozen=True)
class UnitSpec:
    """One county-level unit as the generator needs it."""

    code: str  # "140702"
    name_zh: str  # "榆次区"
    short_zh: str  # "榆次"
    name_en: str  # "Yuci"


JINZHONG_UNITS: list[UnitSpec] = [
    UnitSpec("140702", "榆次区", "榆次", "Yuci"),
    UnitSpec("140703", "太谷区", "太谷", "Taigu"),
    UnitSpec("140721", "榆社县", "榆社", "Yushe"),
    UnitSpec("140722", "左权县", "左权", "Zuoquan"),
    UnitSpec("140723", "和顺县", "和顺", "Heshun"),
    UnitSpec("140724", "昔阳县", "昔阳", "Xiyang"),
    UnitSpec("140725", "寿阳县", "寿阳", "Shouyang"),
    UnitSpec("140727", "祁县", "祁县", "Qixian"),
    UnitSpec("140728", "平遥县", "平遥", "Pingyao"),
    UnitSpec("140729", "灵石县", "灵石", "Lingshi"),
    UnitSpec("140781", "介休市", "介休", "Jiexiu"),
]

# 太谷县 carried 140726 until it became 太谷区 (140703) in 2019; older exports still use it.
RETIRED_CODES: dict[str, str] = {"140726": "140703"}

# Resident population in 10k (rounded 2020 census figures): drives every volume split.
POPULATION_10K: dict[str, float] = {
    "140702": 84.0, "140703": 29.0, "140721": 11.0, "140722": 13.5, "140723": 12.0, "140724": 20.0,
    "140725": 19.0, "140727": 25.5, "140728": 44.0, "140729": 26.0, "140781": 40.5,
}

# When each county's own business-environment bureau opened (寿阳 first, on 9 April 2024).
BUREAU_OPENED: dict[str, str] = {
    "140725": "2024-04-09", "140702": "2024-04-26", "140781": "2024-05-10", "140728": "2024-05-20",
    "140703": "2024-05-28", "140729": "2024-06-12", "140727": "2024-06-18", "140724": "2024-07-05",
    "140722": "2024-07-22", "140723": "2024-08-08", "140721": "2024-08-26",
}

# Plausible town names for a unit the table above does not know.
GENERIC_TOWNS: list[str] = [
    "城关镇", "东关街道", "西关街道", "新城街道", "南关镇", "北关镇", "河西乡", "河东乡", "杨村乡", "李家庄乡",
    "王家庄乡", "张家湾乡", "石门乡", "龙泉镇", "青山乡", "白龙镇",
]
