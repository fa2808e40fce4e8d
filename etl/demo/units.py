"""The reporting units the demo generates data for, and what is known about each real county."""

from __future__ import annotations

from dataclasses import dataclass


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

# Towns and sub-districts (乡镇/街道) each county reports by in its monthly workbook.
TOWNS: dict[str, list[str]] = {
    "140702": ["锦纶街道", "北关街道", "西南街道", "新华街道", "路西街道", "新建街道", "安宁街道", "晋华街道",
               "乌金山镇", "东阳镇", "什贴镇", "长凝镇", "北田镇", "修文镇", "郭家堡乡", "张庆乡"],
    "140703": ["明星镇", "胡村镇", "范村镇", "侯城乡", "北洸乡", "阳邑乡", "小白乡", "水秀乡", "任村乡"],
    "140721": ["箕城镇", "云竹镇", "郝北镇", "社城镇", "河峪镇", "北寨乡", "西马乡", "岚峪乡"],
    "140722": ["辽阳镇", "桐峪镇", "麻田镇", "芹泉镇", "拐儿镇", "寒王镇", "石匣乡", "龙泉乡", "粟城乡", "羊角乡"],
    "140723": ["义兴镇", "李阳镇", "松烟镇", "青城镇", "横岭镇", "喂马乡", "平松乡", "牛川乡", "马坊乡"],
    "140724": ["乐平镇", "皋落镇", "冶头镇", "沾尚镇", "大寨镇", "李家庄乡", "界都乡", "三都乡", "赵壁乡",
               "孔氏乡", "闫庄乡"],
    "140725": ["朝阳镇", "南燕竹镇", "宗艾镇", "平头镇", "松塔镇", "西洛镇", "尹灵芝镇", "平舒乡", "解愁乡",
               "马首乡", "景尚乡", "羊头崖乡", "上湖乡", "温家庄乡"],
    "140727": ["昭馀镇", "东观镇", "古县镇", "贾令镇", "城赵镇", "来远镇", "西六支乡", "峪口乡"],
    "140728": ["古陶镇", "段村镇", "东泉镇", "洪善镇", "宁固镇", "南政乡", "中都乡", "岳壁乡", "卜宜乡",
               "孟山乡", "朱坑乡", "襄垣乡", "杜家庄乡", "香乐乡"],
    "140729": ["翠峰镇", "静升镇", "两渡镇", "夏门镇", "南关镇", "段纯镇", "英武乡", "王禹乡", "坛镇乡",
               "梁家焉乡", "交口乡"],
    "140781": ["北关街道", "西关街道", "东南街道", "西南街道", "北坛街道", "义安镇", "张兰镇", "连福镇",
               "洪山镇", "龙凤镇", "绵山镇", "义棠镇", "城关乡", "宋古乡", "三佳乡"],
}

# Plausible town names for a unit the table above does not know.
GENERIC_TOWNS: list[str] = [
    "城关镇", "东关街道", "西关街道", "新城街道", "南关镇", "北关镇", "河西乡", "河东乡", "杨村乡", "李家庄乡",
    "王家庄乡", "张家湾乡", "石门乡", "龙泉镇", "青山乡", "白龙镇",
]
