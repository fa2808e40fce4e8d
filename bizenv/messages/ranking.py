"""Messages of the ranking area (keys start with 'ranking.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "ranking.nav": {"zh": "县区排名", "en": "County ranking"},
    "ranking.title": {"zh": "县区排名", "en": "County ranking"},
    "ranking.subtitle": {"zh": "各县（市、区）营商环境综合指数：前沿距离法评分，小样本收缩，给出排名区间",
                         "en": "Business-environment composite index of the counties: distance-to-frontier "
                               "scores, small samples shrunk, ranks shown with their uncertainty"},
    "ranking.asof": {"zh": "数据截至 {when}", "en": "Data as of {when}"},
    "ranking.asof_unknown": {"zh": "数据截至：尚无成功的数据更新记录", "en": "Data as of: no successful data update yet"},
    "ranking.empty": {"zh": "暂无排名数据，请先运行 ETL 并计算排名", "en": "No ranking yet. Run the ETL first."},
    "ranking.month_label": {"zh": "统计月份", "en": "Month"},
    "ranking.funnel_kpi_label": {"zh": "漏斗图指标", "en": "Indicator for the funnel plot"},
    # pillars and where their data comes from
    "ranking.pillar.approval": {"zh": "审批服务", "en": "Approvals"},
    "ranking.pillar.ratings": {"zh": "好差评", "en": "Ratings"},
    "ranking.pillar.hotline": {"zh": "12345热线", "en": "12345 hotline"},
    "ranking.pillar.county_development": {"zh": "县域发展", "en": "County development"},
    "ranking.source.approval": {"zh": "一体化政务服务平台（办件）", "en": "Integrated online government-service "
                                                                "platform (cases)"},
    "ranking.source.ratings": {"zh": "好差评系统", "en": "Good/bad rating system (好差评)"},
    "ranking.source.hotline": {"zh": "12345政务服务便民热线", "en": "12345 government service hotline"},
    "ranking.source.county_development": {"zh": "县区月报（Excel 报送）", "en": "County monthly returns (Excel)"},
    # KPI definitions (popover)
    "ranking.info.label": {"zh": "指标说明：{kpi}", "en": "About this indicator: {kpi}"},
    "ranking.info.source": {"zh": "数据来源：{source}", "en": "Source: {source}"},
    "ranking.info.direction.higher_is_better": {"zh": "越高越好", "en": "Higher is better"},
    "ranking.info.direction.lower_is_better": {"zh": "越低越好", "en": "Lower is better"},
    "ranking.info.bounds": {"zh": "排名评分：{best} 得100分，{worst} 得0分", "en": "Scoring: {best} scores 100, "
                                                                             "{worst} scores 0"},
    # ranking table
    "ranking.table.heading": {"zh": "综合排名（{period}）", "en": "Composite ranking ({period})"},
    "ranking.col.rank": {"zh": "名次", "en": "Rank"},
    "ranking.col.county": {"zh": "县（市、区）", "en": "County"},
    "ranking.col.composite": {"zh": "综合指数", "en": "Composite"},
    "ranking.col.change": {"zh": "较上月", "en": "vs last month"},
    "ranking.col.interval": {"zh": "名次区间（90%）", "en": "Rank interval (90%)"},
    "ranking.col.rank_low": {"zh": "名次区间下限", "en": "Best plausible rank"},
    "ranking.col.rank_high": {"zh": "名次区间上限", "en": "Worst plausible rank"},
    "ranking.col.tie_group": {"zh": "并列组", "en": "Tie group"},
    "ranking.col.listed": {"zh": "红黑榜", "en": "Red/black list"},
    "ranking.col.code": {"zh": "区划代码", "en": "Division code"},
    "ranking.col.name_zh": {"zh": "名称", "en": "Name (Chinese)"},
    "ranking.col.name_en": {"zh": "英文名称", "en": "Name"},
    "ranking.col.period": {"zh": "月份", "en": "Month"},
    "ranking.change.up": {"zh": "▲{n}", "en": "▲{n}"},
    "ranking.change.down": {"zh": "▼{n}", "en": "▼{n}"},
    "ranking.change.same": {"zh": "＝", "en": "="},
    "ranking.change.new": {"zh": "—", "en": "—"},
    "ranking.change.up_title": {"zh": "较上月上升 {n} 位", "en": "Up {n} places on last month"},
    "ranking.change.down_title": {"zh": "较上月下降 {n} 位", "en": "Down {n} places on last month"},
    "ranking.change.same_title": {"zh": "名次与上月相同", "en": "Same rank as last month"},
    "ranking.change.new_title": {"zh": "上月无排名", "en": "Not ranked last month"},
    "ranking.interval.title": {"zh": "第{rank}名，90% 可能落在第{low}至{high}名之间",
                               "en": "Rank {rank}; 90% plausibly between {low} and {high}"},
    "ranking.interval.range": {"zh": "{low}–{high}", "en": "{low}–{high}"},
    "ranking.unranked": {"zh": "未排名", "en": "not ranked"},
    "ranking.open_profile": {"zh": "查看{county}县区画像", "en": "Open the profile of {county}"},
    "ranking.table.note": {"zh": "分数为0–100分（越高越好）。名次区间：考虑样本量带来的不确定性后，90% 可能的名次范围；"
                                 "底色相同的相邻县区名次区间相互重叠，名次差异在统计上不显著。点击县区名称查看县区画像。",
                           "en": "Scores run from 0 to 100 (higher is better). Rank interval: the range that holds "
                                 "the rank with 90% probability once sample sizes are allowed for; neighbours on the "
                                 "same shading have overlapping intervals, so their order is not statistically "
                                 "clear. Click a county to open its profile."},
    "ranking.table.details": {"zh": "可排序表格与下载", "en": "Sortable table and downloads"},
    "ranking.flag.missing_pillar": {"zh": "缺少分项：{pillars}", "en": "Missing pillar: {pillars}"},
    # red and black lists
    "ranking.lists.heading": {"zh": "红黑榜（{period}）", "en": "Red and black lists ({period})"},
    "ranking.lists.red": {"zh": "红榜", "en": "Red list (best)"},
    "ranking.lists.black": {"zh": "黑榜", "en": "Black list (worst)"},
    "ranking.lists.rule": {"zh": "规则：红榜为本月综合指数排名前{n}位的县（市、区），黑榜为排名后{n}位；"
                                 "与第{n}位（或倒数第{n}位）得分相同的并列者一并列入；同一县区不会同时上两榜。",
                           "en": "Rule: the red list holds the counties ranked in the top {n} on this month's "
                                 "composite, the black list the bottom {n}; a county tied with the last place on a "
                                 "list is listed too, and no county is on both."},
    "ranking.lists.caution": {"zh": "注意：名次区间相互重叠的县区差距不显著，榜单宜结合名次区间解读。",
                              "en": "Caution: where rank intervals overlap the gap is not significant; read the "
                                    "lists with the intervals."},
    "ranking.lists.item": {"zh": "第{rank}名 · {score} 分", "en": "Rank {rank} · {score} points"},
    "ranking.lists.none": {"zh": "本月无", "en": "None this month"},
    # heatmap
    "ranking.heatmap.heading": {"zh": "分项指标得分（{period}）", "en": "Indicator scores ({period})"},
    "ranking.heatmap.note": {"zh": "每格为该指标的前沿距离得分（0–100分）：蓝色越深越接近最优值，橙色越深越接近最差值；"
                                   "空白为样本不足或无数据，* 为小样本已向全市水平收缩。",
                             "en": "Each cell is the indicator's distance-to-frontier score (0–100): deeper blue is "
                                   "closer to the best bound, deeper orange closer to the worst. Blank: too small a "
                                   "sample or no data; * the small sample was shrunk toward the city."},
    "ranking.heatmap.colorbar": {"zh": "得分", "en": "Score"},
    "ranking.heatmap.hover_value": {"zh": "实际值", "en": "Value"},
    "ranking.heatmap.hover_score": {"zh": "得分", "en": "Score"},
    "ranking.heatmap.hover_points": {"zh": "计入综合指数", "en": "Adds to composite"},
    "ranking.flag.shrunk": {"zh": "小样本，已向全市水平收缩", "en": "small sample, shrunk toward the city"},
    "ranking.flag.small_sample": {"zh": "样本不足，未计分", "en": "sample too small, not scored"},
    "ranking.flag.no_data": {"zh": "无数据", "en": "no data"},
    # bump chart
    "ranking.bump.heading": {"zh": "近12个月名次变化", "en": "Rank over the last 12 months"},
    "ranking.bump.note": {"zh": "纵轴为名次（第1名在上）；线尾标注县区及本月名次。",
                          "en": "The vertical axis is the rank (1st at the top); each line ends with the county "
                                "and its latest rank."},
    "ranking.bump.axis": {"zh": "名次", "en": "Rank"},
    "ranking.bump.hover": {"zh": "第{rank}名", "en": "Rank {rank}"},
    # funnel plot
    "ranking.funnel.heading": {"zh": "漏斗图：{kpi}（{period}）", "en": "Funnel plot: {kpi} ({period})"},
    "ranking.funnel.note": {"zh": "横轴为样本量，纵轴为指标值；实线为全市水平，虚线和点线分别为95%和99.8%控制限。"
                                  "落在控制限以外的县区与全市的差异难以用偶然波动解释；样本越小，控制限越宽。",
                            "en": "Sample size across, the indicator up; the solid line is the city, the dashed and "
                                  "dotted lines its 95% and 99.8% control limits. A county outside the limits "
                                  "differs from the city by more than chance explains; the smaller the sample, the "
                                  "wider the limits."},
    "ranking.funnel.city": {"zh": "全市 {value}", "en": "City {value}"},
    "ranking.funnel.limit95": {"zh": "95% 控制限", "en": "95% limits"},
    "ranking.funnel.limit998": {"zh": "99.8% 控制限", "en": "99.8% limits"},
    "ranking.funnel.x": {"zh": "样本量（件）", "en": "Sample size (cases)"},
    "ranking.funnel.above": {"zh": "显著优于全市", "en": "Significantly better than the city"},
    "ranking.funnel.below": {"zh": "显著差于全市", "en": "Significantly worse than the city"},
    "ranking.funnel.within": {"zh": "与全市无显著差异", "en": "Within chance of the city"},
    "ranking.funnel.hover_n": {"zh": "样本量", "en": "Sample size"},
    # the colour language
    "ranking.legend.better": {"zh": "优于 / 达标", "en": "Better / target met"},
    "ranking.legend.worse": {"zh": "差于 / 未达标", "en": "Worse / target missed"},
}
