"""Report language: English (default) or Persian (right to left, Jalali dates, Persian digits)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import jdatetime

Lang = Literal["en", "fa"]
PERSIAN_DIGITS = str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "PoC acceptance report", "fa": "گزارش پذیرش آزمون اثبات مفهوم"},
    "compare_title": {"en": "PoC comparison of vendors", "fa": "مقایسه تأمین‌کنندگان در آزمون اثبات مفهوم"},
    "vendor": {"en": "Vendor", "fa": "تأمین‌کننده"},
    "run": {"en": "Run", "fa": "اجرا"},
    "generated": {"en": "Generated", "fa": "تاریخ تهیه"},
    "verdict": {"en": "Verdict", "fa": "نتیجه"},
    "accept": {"en": "ACCEPT", "fa": "پذیرفته"},
    "reject": {"en": "REJECT", "fa": "رد"},
    "incomplete": {"en": "INCOMPLETE", "fa": "ناتمام"},
    "accept with conditions": {"en": "ACCEPT WITH CONDITIONS", "fa": "پذیرفته با شرط"},
    "conditions": {
        "en": "Conditions the vendor must fix before contract",
        "fa": "شرط‌هایی که تأمین‌کننده باید پیش از قرارداد برطرف کند",
    },
    "finding": {"en": "Finding", "fa": "یافته"},
    "gaps": {"en": "What the harness could not establish", "fa": "آنچه ابزار آزمون نتوانست احراز کند"},
    "gaps_intro": {
        "en": "Our gaps, not the vendor's findings: none counts against the vendor, none is replaced by "
        "declared evidence, and each keeps the verdict incomplete until a run establishes it.",
        "fa": "این‌ها کاستی‌های ما است، نه یافته‌های تأمین‌کننده: هیچ‌کدام به زیان تأمین‌کننده شمرده نمی‌شود، "
        "با شواهد اظهارشده جایگزین نمی‌شود، و تا اجرایی آن را احراز نکند نتیجه را ناتمام نگه می‌دارد.",
    },
    "what": {"en": "What", "fa": "چه چیزی"},
    "kind": {"en": "Kind", "fa": "نوع"},
    "gap_pending": {"en": "pending (not yet due)", "fa": "در انتظار (هنوز سررسید نشده)"},
    "gap_harness_fault": {"en": "harness fault", "fa": "خطای ابزار آزمون"},
    "gap_not_measured": {"en": "not measured", "fa": "اندازه‌گیری نشده"},
    "gap_not_run": {"en": "not run", "fa": "اجرا نشده"},
    "gap_not_selected": {"en": "not selected", "fa": "انتخاب نشده"},
    "gap_skipped": {"en": "skipped", "fa": "رد شده"},
    "gap_partial": {"en": "partial run", "fa": "اجرای بخشی"},
    "gap_below_acceptance_records": {
        "en": "fewer records than an acceptance run",
        "fa": "کمتر از تعداد رکورد اجرای پذیرش",
    },
    "gap_coverage_unknown": {"en": "coverage not recorded", "fa": "پوشش ثبت نشده"},
    "gap_no_declared_score": {"en": "no declared score", "fa": "بدون امتیاز اظهارشده"},
    "gap_no_survey": {"en": "no tester survey", "fa": "بدون نظرسنجی کاربران آزمون"},
    "not_counted": {
        "en": "not a full acceptance run: shown, never counted in the verdict, trend or comparison",
        "fa": "اجرای کامل پذیرش نیست: نمایش داده می‌شود ولی در نتیجه، روند و مقایسه شمرده نمی‌شود",
    },
    "later_not_counted": {"en": "Later runs not counted", "fa": "اجراهای بعدی که شمرده نشدند"},
    "no_full_run": {"en": "no full acceptance run yet", "fa": "هنوز اجرای کامل پذیرش نیست"},
    "up_to": {"en": "at most", "fa": "حداکثر"},
    "incomplete_criterion": {"en": "incomplete", "fa": "ناتمام"},
    "why": {"en": "Why", "fa": "دلیل"},
    "rules": {"en": "Acceptance rules", "fa": "معیارهای پذیرش"},
    "rule": {"en": "Rule", "fa": "معیار"},
    "status": {"en": "Status", "fa": "وضعیت"},
    "evidence": {"en": "Evidence", "fa": "شواهد"},
    "what_it_proves": {"en": "What this proves", "fa": "آنچه این بررسی ثابت می‌کند"},
    "met": {"en": "met", "fa": "برآورده"},
    "not met": {"en": "not met", "fa": "برآورده نشده"},
    "not yet known": {"en": "not yet known", "fa": "هنوز نامعلوم"},
    "matrix": {"en": "Weighted scoring matrix", "fa": "ماتریس امتیازدهی وزنی"},
    "criterion": {"en": "Criterion", "fa": "معیار"},
    "weight": {"en": "Weight", "fa": "وزن"},
    "measured": {"en": "Measured", "fa": "اندازه‌گیری‌شده"},
    "declared": {"en": "Declared", "fa": "اظهارشده"},
    "score": {"en": "Score", "fa": "امتیاز"},
    "points": {"en": "Points", "fa": "امتیاز وزنی"},
    "source": {"en": "Source", "fa": "منبع"},
    "both": {"en": "measured + declared", "fa": "اندازه‌گیری + اظهار"},
    "none": {"en": "no evidence", "fa": "بدون شواهد"},
    "total": {"en": "Total", "fa": "جمع"},
    "target": {"en": "target", "fa": "هدف"},
    "checks": {"en": "Checks by criterion", "fa": "بررسی‌ها به تفکیک معیار"},
    "check": {"en": "Check", "fa": "بررسی"},
    "scenario": {"en": "Scenario", "fa": "سناریو"},
    "severity": {"en": "Severity", "fa": "شدت"},
    "outcome": {"en": "Outcome", "fa": "نتیجه"},
    "passed": {"en": "passed", "fa": "موفق"},
    "failed": {"en": "failed", "fa": "ناموفق"},
    "error": {"en": "error", "fa": "خطا"},
    "pending": {"en": "pending", "fa": "در انتظار"},
    "skipped": {"en": "skipped", "fa": "رد شده"},
    "expected": {"en": "expected", "fa": "مورد انتظار"},
    "observed": {"en": "observed", "fa": "مشاهده‌شده"},
    "pending_title": {"en": "Time-based expectations still pending", "fa": "انتظارهای زمانی در انتظار داوری"},
    "due": {"en": "first due", "fa": "نخستین سررسید"},
    "count": {"en": "count", "fa": "تعداد"},
    "charts": {"en": "At a glance", "fa": "در یک نگاه"},
    "cost": {"en": "Cost: yearly TCO and ROI", "fa": "هزینه: TCO سالانه و ROI"},
    "tco": {"en": "Yearly TCO", "fa": "TCO سالانه"},
    "roi": {"en": "Yearly ROI", "fa": "ROI سالانه"},
    "satisfaction": {"en": "Tester satisfaction", "fa": "رضایت کاربران آزمون"},
    "links": {"en": "Engineers' detail", "fa": "جزئیات فنی"},
    "metadata": {"en": "Run details", "fa": "مشخصات اجرا"},
    "differences": {"en": "Checks where vendors differ", "fa": "بررسی‌هایی که نتیجه متفاوت دارند"},
    "all_checks": {"en": "All checks", "fa": "همه بررسی‌ها"},
    "no_differences": {"en": "No differences.", "fa": "تفاوتی نیست."},
    "notes": {"en": "Notes", "fa": "یادداشت‌ها"},
    "critical": {"en": "critical", "fa": "بحرانی"},
    "major": {"en": "major", "fa": "مهم"},
    "minor": {"en": "minor", "fa": "جزئی"},
    "latency": {"en": "Report latency", "fa": "زمان پاسخ گزارش‌ها"},
    "timeline": {"en": "The trial night by night", "fa": "آزمون شب به شب"},
    "trend": {"en": "Score trend", "fa": "روند امتیاز"},
    "trend_by_vendor": {"en": "Score trend per vendor", "fa": "روند امتیاز هر تأمین‌کننده"},
    "day": {"en": "Day", "fa": "روز"},
    "of": {"en": "of", "fa": "از"},
    "date": {"en": "Date", "fa": "تاریخ"},
    "runs": {"en": "Runs", "fa": "اجراها"},
    "night_checks": {"en": "Checks", "fa": "بررسی‌ها"},
    "nights_run": {"en": "Nights with a run", "fa": "شب‌های با اجرا"},
    "missed": {"en": "no run: missed night", "fa": "بدون اجرا: شب از دست رفته"},
    "missed_nights": {"en": "Missed nights", "fa": "شب‌های بدون اجرا"},
    "no_results": {"en": "the run left no results (interrupted)", "fa": "اجرا نتیجه‌ای نداد (قطع شد)"},
    "vendor_down": {"en": "vendor down (outage, not a defect)", "fa": "سامانه در دسترس نبود (قطعی، نه نقص)"},
    "expectations": {"en": "Time-based expectations", "fa": "انتظارهای زمانی"},
    "filed": {"en": "filed", "fa": "ثبت‌شده"},
    "judged_passed": {"en": "judged passed", "fa": "داوری‌شده: موفق"},
    "judged_failed": {"en": "judged failed", "fa": "داوری‌شده: ناموفق"},
    "still_pending": {"en": "still pending", "fa": "هنوز در انتظار"},
    "rule_no_critical_failure": {"en": "No critical failure", "fa": "بدون خطای بحرانی"},
    "rule_integrations": {
        "en": "Integrations run without a critical error",
        "fa": "یکپارچگی‌ها بدون خطای بحرانی",
    },
    "rule_three_reports": {"en": "Three management reports ready", "fa": "سه گزارش مدیریتی آماده"},
    "rule_satisfaction": {
        "en": "At least 80 % of test users satisfied",
        "fa": "رضایت دست‌کم ۸۰٪ کاربران آزمون",
    },
}

CRITERIA_FA: dict[str, str] = {
    "security": "امنیت و هویت",
    "scalability": "مقیاس‌پذیری و کارایی",
    "integration": "یکپارچگی با اکوسیستم",
    "reliability": "قابلیت اطمینان: SLA، HA، DR",
    "customisation": "سفارشی‌سازی و توسعه",
    "reporting": "گزارش‌گیری و تحلیل",
    "localisation": "بومی‌سازی و استقرار",
    "cost": "قیمت و TCO",
}

SCENARIOS: dict[str, dict[str, str]] = {
    "lead_to_contract": {"en": "Lead → contract", "fa": "سرنخ ← قرارداد"},
    "ticket_to_resolution": {"en": "Ticket → resolution", "fa": "تیکت ← حل"},
    "ceo_reporting": {"en": "CEO reporting", "fa": "گزارش مدیرعامل"},
}


def label(key: str, lang: Lang) -> str:
    return LABELS.get(key, {}).get(lang) or LABELS.get(key, {}).get("en") or key


def criterion_title(key: str, english: str, lang: Lang) -> str:
    return CRITERIA_FA.get(key, english) if lang == "fa" else english


def scenario_title(check: str, lang: Lang) -> str:
    scenario = check.split("::")[0]
    return SCENARIOS.get(scenario, {}).get(lang) or scenario.replace("_", " ").capitalize()


CHECK_TITLES: dict[str, dict[str, str]] = {
    "every_lead_gets_an_owner": {"en": "Every lead gets an owner", "fa": "هر سرنخ یک مسئول می‌گیرد"},
    "leads_spread_by_the_assignment_rule": {
        "en": "Leads spread by the assignment rule",
        "fa": "توزیع سرنخ‌ها طبق قاعده‌ی تخصیص",
    },
    "followups_due_at_t2_and_t5": {"en": "Follow-ups due at T+2 and T+5 days", "fa": "پیگیری در روز ۲ و ۵"},
    "silence_alert_after_7_days_and_not_after_activity": {
        "en": "Silence alert after 7 days, none after activity",
        "fa": "هشدار سکوت پس از ۷ روز، نه پس از فعالیت",
    },
    "conversion_to_won_contract_keeps_history": {
        "en": "Conversion to a won contract keeps the history",
        "fa": "تبدیل به قرارداد برنده با حفظ تاریخچه",
    },
    "timely_answers_are_not_flagged": {
        "en": "Timely answers are not flagged",
        "fa": "پاسخ به‌موقع نقض نمی‌شود",
    },
    "late_answers_are_flagged_as_breached": {
        "en": "Late answers are flagged as SLA breaches",
        "fa": "پاسخ دیرهنگام نقض SLA ثبت می‌شود",
    },
    "first_response_time_matches_the_ledger": {
        "en": "First response time matches the ledger",
        "fa": "زمان اولین پاسخ مطابق دفتر ثبت",
    },
    "closing_sends_exactly_one_nps_survey": {
        "en": "Closing sends exactly one NPS survey",
        "fa": "بستن تیکت دقیقاً یک نظرسنجی NPS می‌فرستد",
    },
    "nps_matches_recorded_responses": {
        "en": "NPS matches the recorded answers",
        "fa": "NPS مطابق پاسخ‌های ثبت‌شده",
    },
    "conversion_rate_report": {"en": "Conversion rate report", "fa": "گزارش نرخ تبدیل"},
    "first_response_time_report": {"en": "First response time report", "fa": "گزارش زمان اولین پاسخ"},
    "weekly_sales_activity_report": {"en": "Weekly sales activity report", "fa": "گزارش فعالیت هفتگی فروش"},
    "sla_compliance_report": {"en": "SLA compliance report", "fa": "گزارش رعایت SLA"},
    "forecast_accuracy": {"en": "Forecast accuracy (±10 %)", "fa": "دقت پیش‌بینی (±۱۰٪)"},
    "three_management_reports_ready": {
        "en": "Three management reports ready",
        "fa": "سه گزارش مدیریتی آماده",
    },
    "dwh_export_reconciles_with_the_ledger": {
        "en": "DWH export reconciles with the ledger",
        "fa": "خروجی انبار داده با دفتر ثبت می‌خواند",
    },
    "voip_call_appears_on_the_lead": {
        "en": "A call logged through the API appears on the lead's timeline",
        "fa": "تماسی که از راه API ثبت شد در تاریخچه سرنخ دیده می‌شود",
    },
    "voip_or_dwh_connected": {
        "en": "DWH export or the vendor's own VoIP connector works end to end",
        "fa": "خروجی انبار داده یا رابط VoIP خود تأمین‌کننده سرتاسر کار می‌کند",
    },
}


def check_title(check: str, lang: Lang = "en") -> str:
    name = check.split("::")[-1]
    titles = CHECK_TITLES.get(name, {})
    return titles.get(lang) or titles.get("en") or name.replace("_", " ").capitalize()


def number(value: float | int | None, lang: Lang, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text.translate(PERSIAN_DIGITS).replace(",", "٬") if lang == "fa" else text


def moment(iso: str | None, lang: Lang) -> str:
    """A timestamp for people: Jalali (Shamsi) with Persian digits in fa, ISO-like in en."""
    if not iso:
        return "–"
    value = datetime.fromisoformat(iso)
    if lang == "fa":
        shamsi = jdatetime.datetime.fromgregorian(datetime=value)
        return shamsi.strftime("%Y/%m/%d %H:%M").translate(PERSIAN_DIGITS)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def calendar_day(iso: str | None, lang: Lang, short: bool = False) -> str:
    """A calendar day (``YYYY-MM-DD``): Jalali with Persian digits in fa; ``short`` leaves out the year."""
    if not iso:
        return "–"
    value = date.fromisoformat(iso)
    if lang == "fa":
        shamsi = jdatetime.date.fromgregorian(date=value)
        return shamsi.strftime("%m/%d" if short else "%Y/%m/%d").translate(PERSIAN_DIGITS)
    return value.strftime("%m-%d" if short else "%Y-%m-%d")
