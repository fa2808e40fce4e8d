"""Messages of the approvals area (keys start with 'approvals.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "approvals.nav": {"zh": "审批时效", "en": "Approvals"},
    "approvals.title": {"zh": "审批时效", "en": "Approval times"},
    "approvals.subtitle": {"zh": "办件办理时长、超期办件、网办与跑动、事项时限压缩",
                           "en": "How long cases take, which are overdue, online handling and visits, and how far "
                                 "items' limits are cut"},
    "approvals.asof": {"zh": "数据截至 {when}", "en": "Data as of {when}"},
    "approvals.asof_unknown": {"zh": "数据截至：尚无成功的数据更新记录", "en": "Data as of: no successful data update yet"},
    "approvals.empty": {"zh": "暂无数据，请先运行 ETL", "en": "No data yet. Please run the ETL first."},
    # filters
    "approvals.filter.region": {"zh": "区域", "en": "Area"},
    "approvals.filter.start": {"zh": "起始月份", "en": "From"},
    "approvals.filter.end": {"zh": "截止月份", "en": "To"},
    "approvals.filter.dept": {"zh": "部门", "en": "Department"},
    "approvals.filter.channel": {"zh": "办理渠道", "en": "Channel"},
    "approvals.filter.all_depts": {"zh": "全部部门", "en": "All departments"},
    "approvals.filter.all_channels": {"zh": "全部渠道", "en": "All channels"},
    "approvals.filter.note": {"zh": "部门、渠道筛选作用于时长分布、超期办件和事项排名；网办率与跑动次数按区域统计。",
                              "en": "Department and channel filter the distribution, the overdue cases and the item "
                                    "ranking; online rate and visits are by area only."},
    "approvals.region.city": {"zh": "全市", "en": "Whole city"},
    "approvals.range": {"zh": "{start}至{end}", "en": "{start} to {end}"},
    "approvals.channel.window": {"zh": "窗口", "en": "Counter"},
    "approvals.channel.online": {"zh": "网上", "en": "Online"},
    "approvals.channel.mobile": {"zh": "移动端", "en": "Mobile"},
    "approvals.channel.kiosk": {"zh": "自助终端", "en": "Kiosk"},
    "approvals.channel.other": {"zh": "其他", "en": "Other"},
    "approvals.case_status.in_progress": {"zh": "在办", "en": "In progress"},
    "approvals.case_status.suspended": {"zh": "暂停（补正等）", "en": "Suspended"},
    "approvals.case_status.completed": {"zh": "已办结（月末后）", "en": "Completed later"},
    "approvals.case_status.withdrawn": {"zh": "撤件", "en": "Withdrawn"},
    # the distribution of working days
    "approvals.dist.heading": {"zh": "办结办件办理时长分布 · {region} · {range}",
                               "en": "Working days of completed cases · {region} · {range}"},
    "approvals.dist.note": {"zh": "每根柱为办结时用了该工作日数的办件数。蓝色：承诺时限内办结（达标）；朱红色：超出承诺时限"
                                  "（未达标）；灰色：无承诺时限。{limit} 个工作日以上的办件并入最右一栏。",
                            "en": "Each bar counts the cases completed after that many working days. Blue: within "
                                  "the promised limit (met); vermillion: beyond it (missed); grey: no promised "
                                  "limit. Cases over {limit} working days are in the last bar."},
    "approvals.dist.within": {"zh": "✓ 承诺时限内", "en": "✓ Within the promised limit"},
    "approvals.dist.beyond": {"zh": "✗ 超出承诺时限", "en": "✗ Beyond the promised limit"},
    "approvals.dist.no_limit": {"zh": "– 无承诺时限", "en": "– No promised limit"},
    "approvals.dist.x": {"zh": "办理时长（工作日）", "en": "Working days"},
    "approvals.dist.y": {"zh": "办件数（件）", "en": "Cases"},
    "approvals.dist.last": {"zh": "≥{n}", "en": "≥{n}"},
    "approvals.dist.summary": {"zh": "共 {cases} 件，平均 {mean}，承诺时限内 {within}",
                               "en": "{cases} cases, mean {mean}, within the promised limit {within}"},
    # online rate and visits
    "approvals.trend.heading": {"zh": "{kpi} · {region}（近 12 个月）", "en": "{kpi} · {region} (12 months)"},
    "approvals.trend.note": {"zh": "按月统计，点的颜色表示当月是否达到目标（✓达标 ≈接近 ✗未达标）；浅色底为所选月份区间。",
                             "en": "Monthly; a point's colour says whether the month met its target (✓ met, ≈ near, "
                                   "✗ missed). The shaded band is the chosen months."},
    "approvals.trend.target": {"zh": "目标", "en": "Target"},
    "approvals.status.met": {"zh": "✓ 达标", "en": "✓ Met"},
    "approvals.status.near": {"zh": "≈ 接近目标", "en": "≈ Near"},
    "approvals.status.missed": {"zh": "✗ 未达标", "en": "✗ Missed"},
    "approvals.status.none": {"zh": "– 未设目标", "en": "– No target"},
    # overdue cases
    "approvals.overdue.heading": {"zh": "超期未办结办件 · {region} · 截至 {asof}",
                                  "en": "Cases open past their due date · {region} · as of {asof}"},
    "approvals.overdue.note": {"zh": "截止月份月末（本月为截至今日）仍未办结、且已过应办结日期的办件，按应办结日期由早到晚排列，"
                                     "最多 {n} 件。超期天数为应办结日期之后的工作日数。",
                               "en": "Cases still open at the end of the last chosen month (today, for the running "
                                     "month) after their due date, oldest due first, at most {n}. Days overdue are "
                                     "working days after the due date."},
    "approvals.overdue.count": {"zh": "共 {n} 件", "en": "{n} cases"},
    # items ranked
    "approvals.items.heading": {"zh": "事项办理时长与时限压缩排名 · {region} · {range}",
                                "en": "Items ranked by time and by limit compression · {region} · {range}"},
    "approvals.items.order": {"zh": "排序", "en": "Order by"},
    "approvals.items.by_time": {"zh": "平均办理时长（最慢在前）", "en": "Mean working days (slowest first)"},
    "approvals.items.by_compression": {"zh": "时限压缩率（压缩最少在前）",
                                       "en": "Limit compression (least cut first)"},
    "approvals.items.note": {"zh": "压缩率 = 1 − 承诺时限 / 法定时限。显示前 {n} 个事项；点击列标题可重新排序。",
                             "en": "Compression = 1 − promised limit / statutory limit. The top {n} items are shown; "
                                   "click a column header to sort."},
    # table headers
    "approvals.col.case": {"zh": "办件编号", "en": "Case"},
    "approvals.col.region": {"zh": "区域", "en": "Area"},
    "approvals.col.item": {"zh": "事项", "en": "Item"},
    "approvals.col.dept": {"zh": "部门", "en": "Department"},
    "approvals.col.channel": {"zh": "渠道", "en": "Channel"},
    "approvals.col.status": {"zh": "状态", "en": "Status"},
    "approvals.col.accepted": {"zh": "受理时间", "en": "Accepted"},
    "approvals.col.due": {"zh": "应办结日期", "en": "Due"},
    "approvals.col.days_overdue": {"zh": "超期（工作日）", "en": "Working days overdue"},
    "approvals.col.rank_time": {"zh": "时长排名", "en": "Rank by time"},
    "approvals.col.rank_compression": {"zh": "压缩排名", "en": "Rank by compression"},
    "approvals.col.cases": {"zh": "办件数", "en": "Cases"},
    "approvals.col.mean_days": {"zh": "平均时长（工作日）", "en": "Mean working days"},
    "approvals.col.max_days": {"zh": "最长（工作日）", "en": "Longest (working days)"},
    "approvals.col.late_share": {"zh": "超时限占比", "en": "Share late"},
    "approvals.col.promised": {"zh": "承诺时限（工作日）", "en": "Promised (working days)"},
    "approvals.col.statutory": {"zh": "法定时限（工作日）", "en": "Statutory (working days)"},
    "approvals.col.compression": {"zh": "压缩率", "en": "Compression"},
    # KPI help popover
    "approvals.help.button": {"zh": "指标说明：{kpi}", "en": "About this indicator: {kpi}"},
    "approvals.help.definition": {"zh": "定义", "en": "Definition"},
    "approvals.help.direction": {"zh": "方向", "en": "Direction"},
    "approvals.help.higher_is_better": {"zh": "越高越好", "en": "Higher is better"},
    "approvals.help.lower_is_better": {"zh": "越低越好", "en": "Lower is better"},
    "approvals.help.target": {"zh": "{year} 年目标", "en": "Target for {year}"},
    "approvals.help.source": {"zh": "数据来源", "en": "Source"},
    "approvals.help.source.approval": {"zh": "一体化政务服务平台办件数据", "en": "Case records of the provincial "
                                                                          "online government-service platform"},
    "approvals.help.source.ratings": {"zh": "“好差评”系统评价数据", "en": "Ratings from the 好差评 system"},
    "approvals.help.source.hotline": {"zh": "12345热线工单系统", "en": "The 12345 hotline ticket system"},
    "approvals.help.source.county_development": {"zh": "县区月报", "en": "The counties' monthly workbooks"},
}
