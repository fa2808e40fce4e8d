"""The service catalogue (事项清单): items with department, statutory and promised limits, instant flag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from etl.demo.common import DAY, HOUR, TAG_CATALOGUE, Context, fmt_ts

# (code, name) of the departments that own items.
DEPARTMENTS: list[tuple[str, str]] = [
    ("SCJGJ", "市场监督管理局"), ("XZSPJ", "行政审批服务管理局"), ("ZJJ", "住房和城乡建设局"),
    ("ZRZYJ", "自然资源局"), ("STHJJ", "生态环境局"), ("JTYSJ", "交通运输局"), ("RSJ", "人力资源和社会保障局"),
    ("GAJ", "公安局"), ("WJW", "卫生健康委员会"), ("MZJ", "民政局"), ("JYJ", "教育局"), ("WLJ", "文化和旅游局"),
    ("NYNCJ", "农业农村局"), ("SLJ", "水利局"), ("YBJ", "医疗保障局"), ("SWJ", "税务局"),
]

# "name|statutory|promised|flags|popularity": promised 0 = instant (即办件); flag x = must attend in person.
_ITEMS: dict[str, list[str]] = {
    "SCJGJ": [
        "企业设立登记|3|1||60", "企业变更登记|3|1||30", "企业注销登记|3|1||12", "个体工商户设立登记|3|0||80",
        "个体工商户变更登记|3|0||25", "个体工商户注销登记|3|0||15", "农民专业合作社设立登记|3|1||3",
        "企业名称自主申报|1|0||20", "食品经营许可|20|5||25", "食品生产许可|20|10||3", "食品小作坊登记|20|5||4",
        "药品零售企业许可|30|10||3", "医疗器械经营许可|30|10||2", "第二类医疗器械经营备案|5|0||3",
        "特种设备使用登记|15|3|x|4", "动产抵押登记|1|0||3", "股权出质登记|3|0||2", "广告发布登记|10|3||1",
        "营业执照补领|3|0||4",
    ],
    "XZSPJ": [
        "建设项目选址意见书核发|20|8||2", "建设用地规划许可证核发|20|8||2", "建设工程规划许可证核发|20|8||3",
        "建筑工程施工许可证核发|15|3||4", "企业投资项目备案|5|0||6", "企业投资项目核准|20|10||1",
        "固定资产投资项目节能审查|20|10||1", "人防工程易地建设审批|20|5||1", "城市建筑垃圾处置核准|20|5||2",
        "临时占用城市道路审批|20|5||2", "设置大型户外广告审批|20|5||1", "燃气经营许可证核发|20|10||1",
        "城镇污水排入排水管网许可证核发|20|7||2", "特殊车辆在城市道路上行驶审批|20|3||1",
        "占用、挖掘城市道路审批|20|5||2", "城市绿地、树木审批|20|5||1",
    ],
    "ZJJ": [
        "建设工程消防设计审查|15|8||2", "建设工程消防验收|15|8|x|2", "建设工程消防验收备案|5|0||2",
        "房屋建筑和市政基础设施工程竣工验收备案|15|5||2", "商品房预售许可|10|5||1", "建筑业企业资质核准|20|10||1",
        "房地产开发企业资质核定|20|10||1", "建筑施工企业安全生产许可|45|15||1", "商品房买卖合同网签备案|1|0||25",
        "物业服务企业备案|5|0||1", "住房公积金提取|3|0||30", "住房公积金贷款审批|15|5||6", "住房公积金缴存证明|1|0||4",
    ],
    "ZRZYJ": [
        "不动产首次登记|30|5||8", "不动产转移登记|30|5||40", "不动产抵押登记|30|3||25", "不动产变更登记|30|3||8",
        "不动产注销登记|30|1||10", "不动产登记资料查询|1|0||15", "乡村建设规划许可证核发|20|10||2",
        "建设项目用地预审与选址意见书|20|10||1", "采矿权新立登记|40|20||1", "探矿权延续登记|40|20||1",
        "国有建设用地使用权出让后土地使用权分割转让批准|20|10||1",
    ],
    "STHJJ": [
        "建设项目环境影响报告书审批|60|30||1", "建设项目环境影响报告表审批|30|15||2",
        "建设项目环境影响登记表备案|1|0||3", "排污许可证核发|20|10||2", "排污许可证变更|10|5||1",
        "危险废物经营许可证核发|20|15||1", "辐射安全许可证核发|20|10||1",
    ],
    "JTYSJ": [
        "道路货物运输经营许可|20|5||5", "道路旅客运输经营许可|20|10||1", "道路运输从业人员从业资格证核发|20|5||5",
        "机动车维修经营备案|5|0||2", "出租汽车经营许可|20|10||1", "网络预约出租汽车运输证核发|20|5||2",
        "公路超限运输许可|15|3||3", "涉路施工许可|20|10||1", "道路运输证年审|5|0||6",
    ],
    "RSJ": [
        "人力资源服务许可|20|5||1", "劳务派遣经营许可|20|5||1", "企业实行不定时工作制和综合计算工时工作制审批|20|7||1",
        "社会保险登记|5|0||30", "失业保险金申领|10|3||8", "职业技能等级证书查询|1|0||4", "就业创业证申领|5|0||8",
        "工伤认定|60|30||2", "退休审批|20|10||6", "民办职业培训学校设立|20|10||1", "社会保险个人权益记录打印|1|0||10",
    ],
    "GAJ": [
        "公章刻制备案|1|0||15", "旅馆业特种行业许可证核发|20|5||1", "大型群众性活动安全许可|7|3||1",
        "烟花爆竹道路运输许可|3|1||1", "机动车登记|5|0|x|25", "机动车驾驶证换证|5|0|x|20", "户籍迁入|5|0|x|12",
        "居民身份证换领|60|20|x|12", "无犯罪记录证明开具|5|0||6",
    ],
    "WJW": [
        "医疗机构设置审批|45|15||1", "医疗机构执业登记|45|15||1", "公共场所卫生许可|20|5||6", "放射诊疗许可|20|10||1",
        "母婴保健技术服务执业许可|20|10||1", "饮用水供水单位卫生许可|20|5||1", "医师执业注册|20|5||3",
        "护士执业注册|20|5||3", "出生医学证明签发|5|0|x|6",
    ],
    "MZJ": [
        "婚姻登记|1|0|x|12", "社会团体成立登记|30|15||1", "民办非企业单位成立登记|30|15||1", "养老机构备案|5|0||1",
        "殡葬设施建设审批|20|10||1", "婚姻登记记录证明|1|0||2", "社会团体变更登记|10|5||1",
        "最低生活保障审核确认|30|15||4",
    ],
    "JYJ": [
        "民办学校办学许可|60|30||1", "校外培训机构办学许可|60|20||1", "教师资格认定|35|15||4",
        "中小学生转学|5|0||3",
    ],
    "WLJ": [
        "娱乐场所经营许可|20|10||1", "营业性演出许可|20|3||1", "互联网上网服务营业场所经营许可|20|10||1",
        "旅行社业务经营许可|20|10||1", "文物保护单位建设控制地带内建设工程设计方案审批|20|10||1",
        "出版物零售业务经营许可|20|5||1", "艺术品经营单位备案|5|0||1",
    ],
    "NYNCJ": [
        "农药经营许可|20|5||2", "兽药经营许可|20|5||1", "农作物种子生产经营许可|20|10||1",
        "动物防疫条件合格证核发|20|10||2", "生鲜乳收购站许可|20|10||1", "农作物种子经营备案|5|0||1",
        "拖拉机和联合收割机登记|5|0|x|2", "农村宅基地审批|20|10||4",
    ],
    "SLJ": [
        "取水许可|45|20||1", "生产建设项目水土保持方案审批|20|10||2", "河道管理范围内建设项目工程建设方案审批|20|10||1",
        "洪水影响评价类审批|20|10||1", "水利基建项目初步设计文件审批|20|10||1",
    ],
    "YBJ": [
        "医疗保障参保登记|5|0||25", "异地就医备案|5|0||25", "门诊慢特病待遇认定|15|5||8", "医疗费用手工报销|20|10||10",
        "生育保险待遇核定|10|3||5", "医保关系转移接续|15|5||6", "参保缴费证明打印|1|0||8",
    ],
    "SWJ": [
        "一般纳税人登记|1|0||8", "发票领用|1|0||30", "增值税专用发票最高开票限额审批|20|10||3", "清税证明开具|1|0||6",
        "出口退（免）税备案|5|0||1", "纳税证明开具|1|0||10",
    ],
}

# The 企业开办 "一件事" bundle: the business licence leads; seal, invoice and social-security registration follow.
BUNDLE_LEAD = "企业设立登记"
BUNDLE_FOLLOWERS = ("公章刻制备案", "发票领用", "社会保险登记")

# Instant items are popular but mostly small; this brings them to ~30% of cases.
INSTANT_POPULARITY = 0.36
# Promised limits were compressed again on this day; cases accepted earlier carry the old snapshot.
COMPRESSED_ON = np.datetime64("2024-07-01", "D")


@dataclass
class Catalogue:
    """Item attributes as parallel arrays, plus the `items` table rows."""

    code: np.ndarray
    name: np.ndarray
    dept_code: np.ndarray
    dept_name: np.ndarray
    statutory: np.ndarray
    promised: np.ndarray  # current promised limit
    promised_before: np.ndarray  # promised limit before COMPRESSED_ON
    instant: np.ndarray
    online_capable: np.ndarray
    popularity: np.ndarray  # probabilities summing to 1

    def __len__(self) -> int:
        return len(self.code)

    def index_of(self, name: str) -> int:
        """The catalogue position of an item by its name."""
        (found,) = np.flatnonzero(self.name == name)
        return int(found)

    def promised_at(self, item: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The promised limit a case accepted on `days` was given."""
        return np.where(days < COMPRESSED_ON, self.promised_before[item], self.promised[item])


def build_catalogue(ctx: Context) -> Catalogue:
    """Every department's items, in a fixed order so item codes never change between runs."""
    rng = ctx.rng(TAG_CATALOGUE)
    rows = []
    for d_no, (d_code, d_name) in enumerate(DEPARTMENTS, start=1):
        for seq, spec in enumerate(_ITEMS[d_code], start=1):
            name, fdsx, cnsx, flags, pop = spec.split("|")
            rows.append((f"000{100 + d_no}{seq:03d}000", name, d_code, d_name, int(fdsx), int(cnsx),
                         "x" not in flags, float(pop)))
    code, name, dcode, dname, fdsx, cnsx, online, pop = (np.array(c) for c in zip(*rows, strict=True))
    loosen = (cnsx > 0) & (fdsx - 1 > cnsx) & (rng.random(len(code)) < 0.4)
    before = np.where(loosen, np.minimum(fdsx - 1, np.ceil(cnsx * rng.uniform(1.3, 2.0, len(code)))), cnsx)
    pop = pop * np.where(cnsx == 0, INSTANT_POPULARITY, 1.0)
    return Catalogue(code=code, name=name, dept_code=dcode, dept_name=dname, statutory=fdsx.astype(np.int64),
                     promised=cnsx.astype(np.int64), promised_before=before.astype(np.int64),
                     instant=cnsx == 0, online_capable=online, popularity=pop / pop.sum())


def item_rows(ctx: Context, cat: Catalogue) -> list[tuple]:
    """The `items` table as of `now`: promised limits and update time depend on whether compression happened."""
    rng = ctx.rng(TAG_CATALOGUE, 1)
    n = len(cat)
    base_day = np.datetime64("2022-12-15", "D") + rng.integers(0, 14, n).astype("timedelta64[D]")
    base_ts = base_day.astype(np.int64) * DAY + 9 * HOUR + rng.integers(0, 8 * HOUR, n)
    changed = cat.promised != cat.promised_before
    compressed_ts = int(COMPRESSED_ON.astype(np.int64)) * DAY + 8 * HOUR + rng.integers(0, 2 * HOUR, n)
    done = compressed_ts <= ctx.now
    gxsj = np.where(changed & done, compressed_ts, base_ts)
    promised = np.where(done, cat.promised, cat.promised_before)
    gx = fmt_ts(gxsj)
    return [
        (cat.code[i], cat.name[i], cat.dept_code[i], cat.dept_name[i], int(cat.statutory[i]), int(promised[i]),
         "1" if cat.instant[i] else "0", gx[i])
        for i in range(n)
    ]
