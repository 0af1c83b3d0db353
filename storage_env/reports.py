"""Monthly environment report of one room (PDF): the daily compliance table of JGJ 25-2010
§5.2 for every day of the month, data completeness, hours out of band, alarms and charts of the
daily means, with Chinese text in ``core.fonts.pdf_font`` (embedded when a font is installed).

Everything is counted per calendar day of the archive's time zone (settings.TIME_ZONE): the
days, the minutes out of band and the alarms (raised within the month). The PDF says so.
"""

from __future__ import annotations

import datetime as dt
import io

from django.utils import timezone
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.fonts import pdf_font
from core.output import pdf_text
from repository.choices import CLIMATE_RANGES, RoomTemplate
from repository.models import StoreRoom
from storage_env.compliance import (
    ComplianceStatus,
    DayCompliance,
    Measure,
    archive_tz,
    daily_compliance,
    day_bounds,
    month_days,
)
from storage_env.models import Alarm, ClimatePolicy, effective_policy

RED = colors.HexColor("#b71c1c")
BAD_BACKGROUND = colors.HexColor("#ffebee")
GREY = colors.HexColor("#757575")
STATUS_TEXT = {
    ComplianceStatus.COMPLIANT: "符合",
    ComplianceStatus.NOT_COMPLIANT: "不符合",
    ComplianceStatus.NO_DATA: "无数据",
}
ALARMS_LISTED = 200


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` in the archive's time zone → [start, end) as aware datetimes."""
    first, last = month_days(month)
    return day_bounds(first)[0], day_bounds(last)[1]


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def month_summary(room: StoreRoom, month: str, *, now: dt.datetime | None = None) -> dict:
    first, last = month_days(month)
    start, end = month_bounds(month)
    policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    days = daily_compliance(room, first, last, now=now)
    alarms = list(
        Alarm.objects.filter(room=room, raised_at__gte=start, raised_at__lt=end)
        .select_related("acknowledged_by")
        .order_by("raised_at")
    )
    due = [d.completeness for d in days if d.completeness is not None]
    temps = [d.temperature for d in days if d.temperature.has_data]
    hums = [d.humidity for d in days if d.humidity.has_data]
    return {
        "policy": policy,
        "days": days,
        "alarms": alarms,
        "compliant": sum(d.status == ComplianceStatus.COMPLIANT for d in days),
        "not_compliant": sum(d.status == ComplianceStatus.NOT_COMPLIANT for d in days),
        "no_data": sum(d.status == ComplianceStatus.NO_DATA for d in days),
        "completeness": round(sum(due) / len(due), 1) if due else None,
        "hours_out": round(sum(d.minutes_out_of_band for d in days) / 60, 1),
        "t_min": min((m.minimum for m in temps), default=None),
        "t_max": max((m.maximum for m in temps), default=None),
        "h_min": min((m.minimum for m in hums), default=None),
        "h_max": max((m.maximum for m in hums), default=None),
    }


def _chart(days: list[DayCompliance], which: str, policy, font: str) -> Drawing:
    """Daily means of one measure over the month's real length (28–31 days), with the band and
    the set point."""
    n = len(days)
    drawing = Drawing(170 * mm, 48 * mm)
    plot = LinePlot()
    plot.x, plot.y = 12 * mm, 8 * mm
    plot.width, plot.height = 152 * mm, 32 * mm
    if which == "temperature":
        low, high, set_point, unit, colour = (
            policy.temp_min,
            policy.temp_max,
            policy.temp_set,
            "°C",
            colors.HexColor("#c62828"),
        )
        title = "日均温度 °C（实线），允许范围（灰）与设定值（虚线）"
    else:
        low, high, set_point, unit, colour = (
            policy.rh_min,
            policy.rh_max,
            policy.rh_set,
            "%RH",
            colors.HexColor("#1565c0"),
        )
        title = "日均相对湿度 %RH（实线），允许范围（灰）与设定值（虚线）"
    means = [(d.day.day, getattr(d, which).mean) for d in days if getattr(d, which).has_data]
    # One line per run of consecutive days with data: a day without data is a gap, not a slope.
    runs: list[list[tuple[int, float]]] = []
    for day, mean in means:
        if runs and runs[-1][-1][0] == day - 1:
            runs[-1].append((day, mean))
        else:
            runs.append([(day, mean)])
    values = [v for _d, v in means] + [low, high]
    pad = max(1.0, (max(values) - min(values)) * 0.1)
    plot.data = [
        [(1, low), (n, low)],
        [(1, high), (n, high)],
        [(1, set_point), (n, set_point)],
        *runs,
    ]
    for index in (0, 1):
        plot.lines[index].strokeColor = GREY
        plot.lines[index].strokeWidth = 0.5
    plot.lines[2].strokeColor = GREY
    plot.lines[2].strokeDashArray = [2, 2]
    for index in range(3, 3 + len(runs)):
        plot.lines[index].strokeColor = colour
        plot.lines[index].symbol = makeMarker("FilledCircle", size=2)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 1, n
    plot.xValueAxis.valueSteps = [1, 5, 10, 15, 20, 25, n]
    plot.yValueAxis.valueMin = round(min(values) - pad)
    plot.yValueAxis.valueMax = round(max(values) + pad)
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName = font
        axis.labels.fontSize = 7
    drawing.add(plot)
    drawing.add(String(12 * mm, 44 * mm, title, fontName=font, fontSize=8))
    drawing.add(String(166 * mm, 6 * mm, "日", fontName=font, fontSize=7))
    drawing.add(String(2 * mm, 44 * mm, unit, fontName=font, fontSize=7))
    return drawing


def _measure_cells(m: Measure) -> list[str]:
    if not m.has_data:
        return ["无数据", "", "", ""]
    deviation = f"{m.max_deviation:g}"  # 2.03 is not 2.0: shown as judged (2 decimals)
    if not m.deviation_ok:
        deviation += " 超"
    minutes = str(m.minutes_out_of_band)
    if not m.band_ok:
        minutes += " 超"
    return [f"{_num(m.minimum)}–{_num(m.maximum)}", _num(m.mean), deviation, minutes]


def _daily_table(days: list[DayCompliance], font: str) -> Table:
    header = [
        ["日期", "结论", "温度 °C", "", "", "", "相对湿度 %RH", "", "", "", "数据", "告警"],
        [
            "",
            "",
            "最低–最高",
            "均值",
            "最大偏差",
            "超限分钟",
            "最低–最高",
            "均值",
            "最大偏差",
            "超限分钟",
            "完整率 %",
            "",
        ],
    ]
    rows = []
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("LEADING", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#eceff1")),
        ("SPAN", (2, 0), (5, 0)),
        ("SPAN", (6, 0), (9, 0)),
        ("SPAN", (0, 0), (0, 1)),
        ("SPAN", (1, 0), (1, 1)),
        ("SPAN", (11, 0), (11, 1)),
        ("ALIGN", (2, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    for index, d in enumerate(days, start=len(header)):
        status = STATUS_TEXT[d.status]
        rows.append(
            [
                f"{d.day:%m-%d}",
                status,
                *_measure_cells(d.temperature),
                *_measure_cells(d.humidity),
                _num(d.completeness),
                str(d.alarms),
            ]
        )
        if d.status == ComplianceStatus.NOT_COMPLIANT:
            style += [("TEXTCOLOR", (1, index), (1, index), RED)]
        elif d.status == ComplianceStatus.NO_DATA:
            style += [
                ("TEXTCOLOR", (0, index), (-1, index), GREY),
                ("SPAN", (2, index), (5, index)),
                ("SPAN", (6, index), (9, index)),
            ]
        for column, m, ok in (
            (4, d.temperature, d.temperature.deviation_ok),
            (5, d.temperature, d.temperature.band_ok),
            (8, d.humidity, d.humidity.deviation_ok),
            (9, d.humidity, d.humidity.band_ok),
        ):
            if m.has_data and not ok:
                style += [
                    ("BACKGROUND", (column, index), (column, index), BAD_BACKGROUND),
                    ("TEXTCOLOR", (column, index), (column, index), RED),
                ]
    widths = [11, 12, 20, 12, 14, 13, 20, 12, 14, 13, 14, 10]
    table = Table(header + rows, colWidths=[w * mm for w in widths], repeatRows=2)
    table.setStyle(TableStyle(style))
    return table


def monthly_report_pdf(room: StoreRoom, month: str, *, now: dt.datetime | None = None) -> bytes:
    first, last = month_days(month)
    summary = month_summary(room, month, now=now)
    policy, days = summary["policy"], summary["days"]
    font = pdf_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=GREY)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{room.code} {month}",
    )
    basis = CLIMATE_RANGES.get(room.template, CLIMATE_RANGES[RoomTemplate.PAPER]).basis
    zone = str(archive_tz())
    story = [
        Paragraph(f"库房温湿度月报 {month}", title),
        Paragraph(pdf_text(f"{room.code} {room.name}（{room.get_template_display()}）"), body),
        Paragraph(
            f"允许范围（{basis}）：{policy.temp_min:g}–{policy.temp_max:g} °C，"
            f"{policy.rh_min:g}–{policy.rh_max:g} %RH；"
            f"设定值：{policy.temp_set:g} °C ±{policy.temp_swing:g} °C，"
            f"{policy.rh_set:g} %RH ±{policy.rh_swing:g} %RH（JGJ 25-2010 第5.2.3条：每昼夜温度"
            f"波动幅度不得大于±2 °C，相对湿度波动幅度不得大于±5 %）。",
            body,
        ),
        Paragraph(
            f"统计口径：按 {zone} 时区的日历日（00:00–24:00）统计，本月共 {len(days)} 天"
            f"（{first:%m-%d} 至 {last:%m-%d}）。最大偏差为 5 分钟时间加权均值与设定值之差的"
            f"最大值；超限分钟为 5 分钟均值（仅有小时数据处为小时均值）超出允许范围的时长，"
            f"最低、最高为单次读数；数据完整率为实测覆盖时长与传感器"
            f"应报时长之比；告警为本月内（同一时区）发生的告警。按当前设定值评定。"
            f"生成于 {timezone.localtime(now or timezone.now()):%Y-%m-%d %H:%M}。",
            small,
        ),
        Spacer(1, 3 * mm),
    ]
    summary_table = Table(
        [
            ["符合天数", "不符合天数", "无数据天数", "数据完整率", "超限小时数", "本月告警"],
            [
                str(summary["compliant"]),
                str(summary["not_compliant"]),
                str(summary["no_data"]),
                "–" if summary["completeness"] is None else f"{summary['completeness']:.1f} %",
                f"{summary['hours_out']:.1f}",
                str(len(summary["alarms"])),
            ],
            [
                "温度范围",
                f"{_num(summary['t_min'])}–{_num(summary['t_max'])} °C",
                "湿度范围",
                f"{_num(summary['h_min'])}–{_num(summary['h_max'])} %RH",
                "",
                "",
            ],
        ],
        colWidths=[30 * mm] * 6,
    )
    summary_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
                ("BACKGROUND", (0, 2), (0, 2), colors.HexColor("#eceff1")),
                ("BACKGROUND", (2, 2), (2, 2), colors.HexColor("#eceff1")),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
            ]
        )
    )
    story += [
        summary_table,
        Spacer(1, 3 * mm),
        _chart(days, "temperature", policy, font),
        _chart(days, "humidity", policy, font),
        Spacer(1, 2 * mm),
        Paragraph("逐日达标情况（“超”：超出允许波动或允许范围）", body),
        Spacer(1, 1 * mm),
        _daily_table(days, font),
    ]
    failing = [d for d in days if d.reasons]
    if failing:
        story += [Spacer(1, 3 * mm), Paragraph("不符合原因", body)]
        for d in failing:
            story.append(Paragraph(pdf_text(f"{d.day:%m-%d}：" + "；".join(d.reasons)), small))
    story += [Spacer(1, 3 * mm), Paragraph(f"本月告警（{len(summary['alarms'])}）", body)]
    rows = [["时间", "告警", "状态", "确认人"]]
    for alarm in summary["alarms"][:ALARMS_LISTED]:
        rows.append(
            [
                f"{timezone.localtime(alarm.raised_at, archive_tz()):%m-%d %H:%M}",
                Paragraph(pdf_text(f"{alarm.get_rule_display()}：{alarm.display_message}"), small),
                str(alarm.get_state_display()),
                alarm.acknowledged_by.username if alarm.acknowledged_by_id else "",
            ]
        )
    if len(rows) == 1:
        rows.append(["", "无", "", ""])
    alarms_table = Table(rows, colWidths=[25 * mm, 105 * mm, 20 * mm, 25 * mm], repeatRows=1)
    alarms_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(alarms_table)
    doc.build(story)
    return buffer.getvalue()
