"""Messages of the service area (keys start with 'service.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "service.nav": {"zh": "好差评与12345", "en": "Ratings & hotline"},
    "service.title": {"zh": "好差评与12345热线", "en": "Ratings and the 12345 hotline"},
    "service.subtitle": {"zh": "评价等级、差评整改、热线指标与营商环境类诉求",
                         "en": "Rating levels, bad-review rectification, hotline indicators and business-environment "
                               "tickets"},
    "service.filter.region": {"zh": "区域", "en": "Area"},
    "service.filter.start": {"zh": "起始月份", "en": "From"},
    "service.filter.end": {"zh": "截止月份", "en": "To"},
    # cards
    "service.cards.ratings": {"zh": "好差评指标 · {region} · {period}", "en": "Ratings · {region} · {period}"},
    "service.cards.hotline": {"zh": "12345热线指标 · {region} · {period}",
                              "en": "12345 hotline · {region} · {period}"},
    "service.cards.note": {"zh": "卡片为截止月份的数值；上边框蓝色为达标、橙色为未达标。点 ⓘ 查看指标定义。",
                           "en": "Cards show the last chosen month; a blue top edge means the target is met, orange "
                                 "that it is missed. Tap ⓘ for a definition."},
    # rating levels
    "service.levels.heading": {"zh": "评价等级构成 · {region} · {range}", "en": "Rating levels · {region} · {range}"},
    "service.levels.note": {"zh": "每月各等级评价的占比；“不满意”“非常不满意”为差评。悬停可见条数。",
                            "en": "Each month's share of ratings by level; dissatisfied and very dissatisfied are "
                                  "bad reviews. Hover for counts."},
    "service.levels.y": {"zh": "占比", "en": "Share"},
    "service.level.5": {"zh": "非常满意", "en": "Very satisfied"},
    "service.level.4": {"zh": "满意", "en": "Satisfied"},
    "service.level.3": {"zh": "基本满意", "en": "Basically satisfied"},
    "service.level.2": {"zh": "不满意", "en": "Dissatisfied"},
    "service.level.1": {"zh": "非常不满意", "en": "Very dissatisfied"},
    "service.levels.hover": {"zh": "{level}：%{{customdata:,}} 条（%{{y:.1%}}）",
                             "en": "{level}: %{{customdata:,}} (%{{y:.1%}})"},
    # rectification
    "service.rect.heading": {"zh": "差评整改 · {region} · {range}",
                             "en": "Bad-review rectification · {region} · {range}"},
    "service.rect.note": {"zh": "柱为当月核实差评条数（蓝色为已整改部分），线为整改率和整改及时率；整改期限为评价后 {days} 个工作日。",
                          "en": "Bars: the month's verified bad reviews (blue: rectified). Lines: rectification "
                                "rate and rectified-on-time rate; the deadline is {days} working days after the "
                                "rating."},
    "service.rect.verified": {"zh": "核实差评", "en": "Verified bad reviews"},
    "service.rect.rectified": {"zh": "已整改", "en": "Rectified"},
    "service.rect.count_axis": {"zh": "条数", "en": "Reviews"},
    "service.rect.rate_axis": {"zh": "比例", "en": "Rate"},
    "service.unrect.heading": {"zh": "未整改的核实差评 · {region} · 截至 {asof}",
                               "en": "Verified bad reviews not rectified · {region} · as of {asof}"},
    "service.unrect.note": {"zh": "截止月份月末（本月为截至今日）仍未整改的核实差评，最早的在前，最多 {n} 条；"
                                  "“已超期”指已过评价后 {days} 个工作日的整改期限。",
                            "en": "Verified bad reviews not rectified by the end of the last chosen month (today, "
                                  "for the running month), oldest first, at most {n}. Past deadline: more than {days} "
                                  "working days after the rating."},
    "service.unrect.count": {"zh": "共 {n} 条，其中已超期 {late} 条", "en": "{n} reviews, {late} past the deadline"},
    "service.yes": {"zh": "是", "en": "Yes"},
    "service.no": {"zh": "否", "en": "No"},
    "service.rectify.not_rectified": {"zh": "未整改", "en": "Not rectified"},
    "service.rectify.in_progress": {"zh": "整改中", "en": "In progress"},
    "service.rectify.rectified": {"zh": "已整改（月末后）", "en": "Rectified later"},
    "service.rectify.none": {"zh": "未填报", "en": "Not reported"},
    # hotline categories
    "service.cat.heading": {"zh": "营商环境类诉求分类 · {region} · {range}",
                            "en": "Business-environment tickets by category · {region} · {range}"},
    "service.cat.note": {"zh": "营商环境类12345工单按诉求分类计数。蓝色：按期办结或尚未到期；朱红色：超期办结或超期未办结。",
                         "en": "Business-environment hotline tickets by category. Blue: closed on time or not yet "
                               "due; vermillion: closed late or open past due."},
    "service.cat.on_time": {"zh": "✓ 按期或未到期", "en": "✓ On time or not yet due"},
    "service.cat.late": {"zh": "✗ 超期", "en": "✗ Late"},
    "service.cat.x": {"zh": "工单数（件）", "en": "Tickets"},
    "service.cat.total": {"zh": "共 {n} 件", "en": "{n} tickets"},
    # table headers
    "service.col.rating": {"zh": "评价编号", "en": "Rating"},
    "service.col.region": {"zh": "区域", "en": "Area"},
    "service.col.case": {"zh": "办件编号", "en": "Case"},
    "service.col.channel": {"zh": "评价渠道", "en": "Channel"},
    "service.col.rated_at": {"zh": "评价时间", "en": "Rated"},
    "service.col.level": {"zh": "评价等级", "en": "Level"},
    "service.col.comment": {"zh": "评价内容", "en": "Comment"},
    "service.col.rectify_status": {"zh": "整改状态", "en": "Rectification"},
    "service.col.deadline": {"zh": "整改期限", "en": "Deadline"},
    "service.col.days_since": {"zh": "已过（工作日）", "en": "Working days since"},
    "service.col.past_deadline": {"zh": "已超期", "en": "Past deadline"},
}
