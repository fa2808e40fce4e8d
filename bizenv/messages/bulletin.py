"""Messages of the bulletin area (keys start with 'bulletin.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    # cover and page furniture
    "bulletin.title": {"zh": "{scope}营商环境监测月度通报", "en": "{scope} Business Environment Monthly Bulletin"},
    "bulletin.issuer": {"zh": "{city}营商环境局", "en": "{city} Business Environment Bureau"},
    "bulletin.edition.city": {"zh": "全市版", "en": "City edition"},
    "bulletin.edition.county": {"zh": "{county}版", "en": "{county} edition"},
    "bulletin.cover.period": {"zh": "统计月份：{period}", "en": "Month: {period}"},
    "bulletin.cover.data_as_of": {"zh": "数据截至：{when}", "en": "Data as of: {when}"},
    "bulletin.cover.generated": {"zh": "生成时间：{when}", "en": "Generated: {when}"},
    "bulletin.cover.internal": {"zh": "内部资料　注意保存", "en": "For internal use"},
    "bulletin.footer": {"zh": "{title}　第 {page} 页 / 共 {pages} 页　生成于 {when}",
                        "en": "{title} · page {page} of {pages} · generated {when}"},
    "bulletin.numerals": {"zh": "一,二,三,四,五,六,七,八,九,十", "en": "1,2,3,4,5,6,7,8,9,10"},
    "bulletin.heading": {"zh": "{n}、{title}", "en": "{n}. {title}"},
    # sections
    "bulletin.section.summary": {"zh": "总体情况", "en": "Summary"},
    "bulletin.section.headline": {"zh": "全市核心指标", "en": "City headline indicators"},
    "bulletin.section.ranking": {"zh": "县（市、区）综合排名", "en": "County ranking"},
    "bulletin.section.lists": {"zh": "红黑榜", "en": "Red and black lists"},
    "bulletin.section.alerts": {"zh": "预警事项", "en": "Alerts"},
    "bulletin.section.counties": {"zh": "各县（市、区）情况", "en": "The counties"},
    "bulletin.section.own_county": {"zh": "{county}情况", "en": "{county} in detail"},
    "bulletin.section.notes": {"zh": "数据说明", "en": "Data notes"},
    "bulletin.sheet.text": {"zh": "通报正文", "en": "Bulletin"},
    # tables
    "bulletin.col.kpi": {"zh": "指标", "en": "Indicator"},
    "bulletin.col.value": {"zh": "本月", "en": "This month"},
    "bulletin.col.previous": {"zh": "上月", "en": "Last month"},
    "bulletin.col.mom": {"zh": "较上月", "en": "vs last month"},
    "bulletin.col.last_year": {"zh": "去年同期", "en": "A year ago"},
    "bulletin.col.yoy": {"zh": "较去年同期", "en": "vs a year ago"},
    "bulletin.col.target": {"zh": "年度目标", "en": "Target"},
    "bulletin.col.status": {"zh": "达标情况", "en": "Target status"},
    "bulletin.col.rank": {"zh": "排名", "en": "Rank"},
    "bulletin.col.region": {"zh": "县（市、区）", "en": "County"},
    "bulletin.col.composite": {"zh": "综合指数", "en": "Index"},
    "bulletin.col.rank_change": {"zh": "排名变化", "en": "Rank change"},
    "bulletin.col.rank_interval": {"zh": "排名区间", "en": "Rank interval"},
    "bulletin.col.tie_group": {"zh": "并列组", "en": "Tie group"},
    "bulletin.col.category": {"zh": "类别", "en": "Category"},
    "bulletin.col.red": {"zh": "红榜（最好）", "en": "Red list (best)"},
    "bulletin.col.black": {"zh": "黑榜（最差）", "en": "Black list (worst)"},
    "bulletin.col.severity": {"zh": "级别", "en": "Severity"},
    "bulletin.col.alert": {"zh": "事项", "en": "Alert"},
    "bulletin.col.county_value": {"zh": "本县", "en": "County"},
    "bulletin.col.city_value": {"zh": "全市", "en": "City"},
    "bulletin.col.county_rank": {"zh": "县区排位", "en": "Place among counties"},
    "bulletin.col.dataset": {"zh": "数据", "en": "Data"},
    "bulletin.col.rows": {"zh": "隔离行数", "en": "Rows in quarantine"},
    "bulletin.status.met": {"zh": "达标", "en": "met"},
    "bulletin.status.near": {"zh": "接近", "en": "near"},
    "bulletin.status.missed": {"zh": "未达标", "en": "missed"},
    "bulletin.rank.up": {"zh": "↑{n}", "en": "↑{n}"},
    "bulletin.rank.down": {"zh": "↓{n}", "en": "↓{n}"},
    "bulletin.rank.same": {"zh": "持平", "en": "same"},
    "bulletin.rank.place": {"zh": "第{n}", "en": "#{n}"},
    "bulletin.rank.interval": {"zh": "{low}–{high}", "en": "{low}–{high}"},
    "bulletin.pillar.approval": {"zh": "审批时效", "en": "Approvals"},
    "bulletin.pillar.ratings": {"zh": "好差评", "en": "Ratings"},
    "bulletin.pillar.hotline": {"zh": "12345热线", "en": "Hotline"},
    "bulletin.pillar.county_development": {"zh": "县域发展", "en": "Development"},
    "bulletin.list.composite": {"zh": "综合指数", "en": "Composite index"},
    "bulletin.list.entry": {"zh": "{region}（{value}）", "en": "{region} ({value})"},
    "bulletin.list.sep": {"zh": "、", "en": ", "},
    "bulletin.summary.missed_sep": {"zh": "；", "en": "; "},
    # charts
    "bulletin.chart.composite": {"zh": "各县（市、区）综合指数（{period}）", "en": "Composite index by county ({period})"},
    "bulletin.chart.comparison": {"zh": "各县（市、区）{kpi}（{period}）", "en": "{kpi} by county ({period})"},
    "bulletin.chart.trend": {"zh": "全市{kpi}近{n}个月走势", "en": "City {kpi}, last {n} months"},
    "bulletin.chart.scores": {"zh": "{county}各项指标得分（满分100）", "en": "{county}: indicator scores (0–100)"},
    "bulletin.chart.score_axis": {"zh": "得分", "en": "Score"},
    "bulletin.chart.target": {"zh": "目标", "en": "Target"},
    # table notes
    "bulletin.note.ranking": {
        "zh": "综合指数按前沿距离法计算（0–100分，越高越好）。排名区间为90%可信区间；区间相互重叠的县区在统计上"
              "难以区分，列为同一并列组。排名变化中↑表示较上月上升。",
        "en": "The composite index scores each indicator by distance to frontier (0–100, higher is better). The rank "
              "interval is a 90% interval; counties whose intervals overlap cannot be told apart and share a tie "
              "group. ↑ means the county moved up since last month."},
    "bulletin.note.lists": {
        "zh": "红黑榜规则：综合指数排名前{n}位的县区列入红榜、后{n}位列入黑榜（并列者一并列入）；各参与排名的关键指标"
              "分别列出数值最好和最差的县区，样本量不足该指标最低样本量的县区不参与。",
        "en": "Rule: the top {n} counties on the composite index make the red list and the bottom {n} the black "
              "list (ties included); for each indicator of the index, the best and the worst county are listed, "
              "leaving out counties whose sample is below the indicator's minimum."},
    "bulletin.note.headline": {
        "zh": "全市数值由各县区的计数汇总计算，不是县区数值的平均。比率类指标的变化以百分点计。",
        "en": "City values are pooled from the counties' counts, never averaged from county values. Changes of "
              "rates are in percentage points."},
    "bulletin.alerts.none": {"zh": "本月无预警事项。", "en": "No alerts this month."},
    "bulletin.alerts.scope": {"zh": "本版仅列{county}的预警事项。", "en": "This edition lists {county}'s alerts only."},
    # county pages
    "bulletin.county.lead": {
        "zh": "{county}综合指数{composite}，全市第{rank}位（排名区间{interval}），{move}。",
        "en": "{county}: composite index {composite}, ranked {rank} (interval {interval}), {move}."},
    "bulletin.county.lead_unranked": {"zh": "{county}本月未参与综合排名。", "en": "{county} is not ranked this month."},
    "bulletin.county.move_up": {"zh": "较上月上升{n}位", "en": "up {n} since last month"},
    "bulletin.county.move_down": {"zh": "较上月下降{n}位", "en": "down {n} since last month"},
    "bulletin.county.move_same": {"zh": "与上月持平", "en": "unchanged since last month"},
    "bulletin.county.move_none": {"zh": "上月无排名", "en": "not ranked last month"},
    "bulletin.county.gains": {"zh": "主要加分指标：{items}。", "en": "Gained most on: {items}."},
    "bulletin.county.losses": {"zh": "主要失分指标：{items}。", "en": "Lost most on: {items}."},
    "bulletin.county.points": {"zh": "{kpi}{delta}分", "en": "{kpi} ({delta} points)"},
    "bulletin.county.missed": {"zh": "未达年度目标：{items}。", "en": "Targets missed: {items}."},
    "bulletin.county.all_met": {"zh": "各项有目标的指标均达到或接近年度目标。",
                                "en": "Every indicator with a target met it or came near."},
    # summary sentences
    "bulletin.summary.city_lead": {"zh": "{month}，全市{clauses}。", "en": "In {month}, {clauses}."},
    "bulletin.summary.county_lead": {"zh": "{month}，{county}{clauses}。", "en": "In {month}, in {county}, {clauses}."},
    "bulletin.summary.clause": {"zh": "{kpi}{value}，{change}", "en": "{kpi} was {value} ({change})"},
    "bulletin.summary.clause_sep": {"zh": "；", "en": "; "},
    "bulletin.change.shorter": {"zh": "较上月缩短{d}", "en": "{d} shorter than last month"},
    "bulletin.change.longer": {"zh": "较上月延长{d}", "en": "{d} longer than last month"},
    "bulletin.change.up": {"zh": "较上月上升{d}", "en": "up {d} on last month"},
    "bulletin.change.down": {"zh": "较上月下降{d}", "en": "down {d} on last month"},
    "bulletin.change.same": {"zh": "与上月持平", "en": "unchanged on last month"},
    "bulletin.change.none": {"zh": "上月无数据", "en": "no data for last month"},
    "bulletin.summary.best_worst": {
        "zh": "综合排名前{n}位为{best}，后{n}位为{worst}。",
        "en": "The top {n} counties on the composite index were {best}; the bottom {n} were {worst}."},
    "bulletin.summary.rank_moves": {
        "zh": "{up}较上月上升{up_n}位，进步最大；{down}下降{down_n}位，退步最大。",
        "en": "{up} moved up {up_n} places, the largest rise; {down} fell {down_n}, the largest fall."},
    "bulletin.summary.rank_moves_none": {"zh": "各县区排名与上月相比无变化。", "en": "No county's rank changed."},
    "bulletin.summary.kpi_moves": {
        "zh": "从指标变化看，{better}改善最明显，{better_change}；{worse}变化最不利，{worse_change}。",
        "en": "Of the indicators, {better} improved most ({better_change}) and {worse} moved most the wrong way "
              "({worse_change})."},
    "bulletin.summary.missed": {"zh": "未达到年度目标的指标有{n}项：{items}。",
                                "en": "{n} indicator(s) missed the year's target: {items}."},
    "bulletin.summary.missed_item": {"zh": "{kpi}{value}，目标{target}",
                                     "en": "{kpi} ({value}, target {target})"},
    "bulletin.summary.all_met": {"zh": "各项有目标的指标均达到或接近年度目标。",
                                 "en": "Every indicator with a target met it or came near."},
    "bulletin.summary.alerts": {"zh": "本月共有预警事项{n}项，其中严重{high}项，详见第{section}部分。",
                                "en": "Alerts this month: {n}, {high} of them high; see section {section}."},
    "bulletin.summary.alerts_no_high": {"zh": "本月共有预警事项{n}项，详见第{section}部分。",
                                        "en": "Alerts this month: {n}; see section {section}."},
    "bulletin.summary.county_rank": {
        "zh": "{county}综合指数{composite}，全市第{rank}位，{move}。",
        "en": "{county} scored {composite} on the composite index, ranked {rank} of the counties, {move}."},
    "bulletin.summary.no_data": {"zh": "{month}暂无指标数据。", "en": "There is no KPI data for {month}."},
    # data notes
    "bulletin.notes.as_of": {"zh": "数据截至{when}，即最近一次成功的数据更新时间。",
                             "en": "Data as of {when} (the last successful data update)."},
    "bulletin.notes.sources": {
        "zh": "数据来源：山西省一体化政务服务平台（办件、事项清单）、政务服务“好差评”系统、12345政务服务便民热线、"
              "各县（市、区）营商环境月报。",
        "en": "Sources: the provincial integrated government-service platform (cases, service catalogue), the "
              "好差评 rating system, the 12345 hotline, and the counties' monthly workbooks."},
    "bulletin.notes.quarantine": {
        "zh": "未通过校验、暂存隔离区的数据共{n}行，未计入本通报，明细见平台“数据运维”页面。",
        "en": "{n} source rows failed validation and are held in quarantine, outside this bulletin (see the data "
              "operations page or bizenv etl rejects)."},
    "bulletin.notes.method": {
        "zh": "办理时长按工作日计（不含法定节假日，含调休上班日），不含补正、公示、听证、专家评审等暂停时间。"
              "样本量低于最低样本量的比率在排名中向全市水平收缩或不计分。",
        "en": "Processing times are in working days (official holidays excluded, swapped working days included), "
              "without suspended time. Rates on fewer cases than their minimum sample are shrunk toward the city "
              "or left out of the ranking."},
    "bulletin.notes.scope_county": {
        "zh": "本版为{county}版：本县情况完整列出，其他县区仅列指标与排名。",
        "en": "This is the {county} edition: the county in full, other counties at indicator and ranking level only."},
    "bulletin.dataset.approvals": {"zh": "办件", "en": "Approval cases"},
    "bulletin.dataset.service_items": {"zh": "事项清单", "en": "Service catalogue"},
    "bulletin.dataset.ratings": {"zh": "好差评", "en": "Ratings"},
    "bulletin.dataset.hotline": {"zh": "12345工单", "en": "Hotline tickets"},
    "bulletin.dataset.county_figures": {"zh": "县区月报", "en": "County workbooks"},
    "bulletin.dataset.total": {"zh": "合计", "en": "Total"},
    # command line and service errors
    "bulletin.error.no_chrome": {
        "zh": "未找到 Chrome/Chromium，无法导出图表。请安装系统包（Debian/Ubuntu：sudo apt-get install chromium），"
              "或运行 .venv/bin/plotly_get_chrome 下载；也可用环境变量 BROWSER_PATH 指定浏览器路径。",
        "en": "No Chrome or Chromium found, so the charts cannot be exported. Install the OS package (Debian/Ubuntu: "
              "sudo apt-get install chromium) or run .venv/bin/plotly_get_chrome to download one; BROWSER_PATH can "
              "point at a browser."},
    "bulletin.error.no_font": {
        "zh": "未找到中文字体 {path}。请安装 Debian 包 fonts-wqy-microhei（sudo apt-get install fonts-wqy-microhei）。",
        "en": "The Chinese font {path} is missing. Install the Debian package fonts-wqy-microhei "
              "(sudo apt-get install fonts-wqy-microhei)."},
    "bulletin.error.no_data": {"zh": "{period}暂无指标数据，未生成通报。",
                               "en": "No KPI data for {period}; no bulletin was built."},
    "bulletin.error.forbidden": {"zh": "无权查看该版本的通报。", "en": "You may not open this edition of the bulletin."},
    "bulletin.error.unwritable": {
        "zh": "通报无法写入归档目录（{path}）：{reason}。归档中没有留下不完整的文件；请检查 bulletin.archive_dir "
              "所指目录存在、可写且磁盘有剩余空间，然后重新生成。",
        "en": "The bulletin could not be written to the archive ({path}): {reason}. No partial file was left in the "
              "archive; check that the folder bulletin.archive_dir names exists, is writable and has free space, "
              "then build it again."},
    # the dashboard page (dashboard/pages/bulletin.py)
    "bulletin.page.nav": {"zh": "月度通报", "en": "Monthly bulletin"},
    "bulletin.page.title": {"zh": "月度通报", "en": "Monthly bulletin"},
    "bulletin.page.subtitle": {"zh": "生成、下载和查阅全市及各县（市、区）营商环境月度通报",
                               "en": "Build, download and browse the monthly bulletin for the city and each county"},
    "bulletin.page.asof": {"zh": "数据截至 {when}", "en": "Data as of {when}"},
    "bulletin.page.asof_unknown": {"zh": "数据截至：尚无成功的数据更新记录", "en": "Data as of: no successful data update yet"},
    "bulletin.page.generate_title": {"zh": "生成通报", "en": "Build a bulletin"},
    "bulletin.page.month_label": {"zh": "统计月份", "en": "Month"},
    "bulletin.page.scope_label": {"zh": "范围", "en": "Edition"},
    "bulletin.page.format_label": {"zh": "格式", "en": "Format"},
    "bulletin.page.lang_label": {"zh": "通报语言", "en": "Bulletin language"},
    "bulletin.page.lang.zh": {"zh": "中文", "en": "Chinese"},
    "bulletin.page.lang.en": {"zh": "英文", "en": "English"},
    "bulletin.page.scope.city": {"zh": "全市版（{city}）", "en": "City edition ({city})"},
    "bulletin.page.scope.all": {"zh": "全部版本（全市版及{n}个县区版）", "en": "Every edition (the city and {n} counties)"},
    "bulletin.page.format.pdf": {"zh": "PDF", "en": "PDF"},
    "bulletin.page.format.xlsx": {"zh": "Excel", "en": "Excel"},
    "bulletin.page.format.docx": {"zh": "Word", "en": "Word"},
    "bulletin.page.generate_button": {"zh": "生成", "en": "Build"},
    "bulletin.page.generate_help": {
        "zh": "在后台生成，页面不会卡住；完成后新文件出现在下方的归档中，并可直接下载。",
        "en": "The bulletin is built in the background, so the page stays usable; the new file then appears in the "
              "archive below, ready to download."},
    "bulletin.page.no_permission": {"zh": "仅管理员和分析员可以生成通报；您可以下载下方归档中的通报。",
                                    "en": "Only administrators and analysts can build a bulletin; you can download "
                                          "the bulletins in the archive below."},
    "bulletin.page.no_months": {"zh": "暂无可生成通报的月份（尚无指标数据）。",
                                "en": "No month to build a bulletin for yet (no KPI data)."},
    "bulletin.page.running": {"zh": "正在生成 {what}……已完成 {done}/{total} 个版本，已用时 {s} 秒",
                              "en": "Building {what}: {done} of {total} editions done, {s} s so far"},
    "bulletin.page.done": {"zh": "已生成 {n} 个文件，用时 {s} 秒：", "en": "Built {n} files in {s} s:"},
    "bulletin.page.done_one": {"zh": "已生成，用时 {s} 秒：", "en": "Built in {s} s:"},
    "bulletin.page.failed": {"zh": "生成失败：{error}", "en": "The bulletin could not be built: {error}"},
    "bulletin.page.failed_internal": {"zh": "生成失败（内部错误），详情见服务器日志。",
                                      "en": "The bulletin could not be built (an internal error); the server log "
                                            "has the details."},
    "bulletin.page.busy": {"zh": "另一份通报正在生成，请待其完成后再试。",
                           "en": "Another bulletin is being built; please try again when it is done."},
    "bulletin.page.file": {"zh": "{edition} {period} {fmt} 第{version}版", "en": "{edition}, {period}, {fmt}, "
                                                                          "version {version}"},
    "bulletin.page.archive_title": {"zh": "通报归档", "en": "Bulletin archive"},
    "bulletin.page.archive_help": {
        "zh": "每次生成都另存为新版本，已发送的通报不会被覆盖，可随时按原样重新下载。",
        "en": "Every build is kept as a new version: a bulletin that was sent is never overwritten and can be "
              "downloaded again exactly as it was."},
    "bulletin.page.archive_help_county": {"zh": "县区账号只能查看和下载本县区的通报。",
                                          "en": "A county account sees and downloads its own county's editions "
                                                "only."},
    "bulletin.page.archive_count": {"zh": "共 {n} 个文件，最新生成的在前", "en": "{n} files, newest first"},
    "bulletin.page.archive_empty": {"zh": "归档中暂无通报。", "en": "No bulletin in the archive yet."},
    "bulletin.page.col.period": {"zh": "统计月份", "en": "Month"},
    "bulletin.page.col.scope": {"zh": "范围", "en": "Edition"},
    "bulletin.page.col.format": {"zh": "格式", "en": "Format"},
    "bulletin.page.col.version": {"zh": "版本", "en": "Version"},
    "bulletin.page.col.generated": {"zh": "生成时间", "en": "Generated"},
    "bulletin.page.col.data_as_of": {"zh": "数据截至", "en": "Data as of"},
    "bulletin.page.col.size": {"zh": "大小（KB）", "en": "Size (KB)"},
    "bulletin.page.col.checksum": {"zh": "校验码", "en": "Checksum"},
    "bulletin.page.col.download": {"zh": "下载", "en": "Download"},
    "bulletin.page.download_link": {"zh": "下载", "en": "Download"},
    "bulletin.page.filename": {"zh": "{city}月度通报_{period}_{scope}_第{version}版",
                               "en": "{city}_bulletin_{period}_{scope}_v{version}"},
    "bulletin.page.not_found": {"zh": "归档中没有这个文件。", "en": "There is no such file in the archive."},
    "bulletin.page.unreadable": {"zh": "归档文件无法读取（缺失或已被改动），请联系管理员。",
                                 "en": "The archived file cannot be read (it is missing or was changed); please tell "
                                       "an administrator."},
}
