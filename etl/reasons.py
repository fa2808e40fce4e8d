"""Why a row was quarantined: one catalogue of reason codes with Chinese and English text."""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "missing_key": ("缺少唯一编号", "missing record id"),
    "unknown_region": ("行政区划无法识别", "region not recognised"),
    "bad_accepted_at": ("受理时间缺失或无法解析", "acceptance time missing or unreadable"),
    "bad_completed_at": ("办结时间无法解析", "completion time unreadable"),
    "bad_submitted_at": ("申报时间无法解析", "submission time unreadable"),
    "completed_before_accepted": ("办结时间早于受理时间", "completed before accepted"),
    "completed_without_time": ("状态为已办结但缺少办结时间", "status is completed but completion time is missing"),
    "date_out_of_range": ("日期超出工作日历范围", "date outside the working-day calendar"),
    "negative_count": ("数量不能为负数", "negative count"),
    "unknown_status": ("办件状态无法识别", "case status not recognised"),
    "bad_limit": ("时限缺失、为负数或承诺时限超过法定时限", "limit missing, negative, or promised above statutory"),
    "missing_name": ("缺少名称", "missing name"),
    # ratings
    "bad_rated_at": ("评价时间缺失或无法解析", "rating time missing or unreadable"),
    "invalid_level": ("评价等级无效", "rating level not one of the five"),
    "bad_rectified_at": ("整改完成时间无法解析", "rectification time unreadable"),
    "rectified_before_rated": ("整改完成时间早于评价时间", "rectified before the rating was given"),
    # county_figures
    "invalid_number": ("数值无法识别", "value is not a number"),
    "duplicate_town": ("同一乡镇（街道）重复填报且数值不同", "town listed twice with different values"),
    # hotline
    "bad_received_at": ("来电时间缺失或无法解析", "call time missing or unreadable"),
    "closed_before_received": ("办结时间早于来电时间", "closed before received"),
    "unknown_ticket_status": ("工单状态无法识别", "ticket status not recognised"),
    "bad_ticket_time": ("办理时限、办结时间或回访时间无法解析", "due, closure or callback time unreadable"),
    "bad_callback_result": ("是否解决或满意度无法识别", "resolution or satisfaction not recognised"),
}


def reason_text(code: str) -> tuple[str, str]:
    """The (zh, en) text for a reason code."""
    return REASONS[code]
