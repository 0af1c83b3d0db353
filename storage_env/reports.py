"""Monthly environment report of one room (PDF): min/max/mean, hours out of range, alarms and a
chart of daily means, with Chinese text in ``config.fonts.pdf_font`` (embedded when a font is
installed)."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.db.models import Avg, Max, Min
from django.utils import timezone
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from config.fonts import pdf_font
from devices.choices import SensorKind
from repository.models import StoreRoom
from storage_env.choices import AggregateBucket
from storage_env.models import Alarm, ClimatePolicy, ReadingAggregate, effective_policy


def _font() -> str:
    return pdf_font()


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` in the archive's time zone → [start, end) in UTC. ValueError if malformed."""
    year, mon = (int(part) for part in month.split("-"))
    if not (2000 <= year <= 2100 and 1 <= mon <= 12):
        raise ValueError(month)
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime(year, mon, 1, tzinfo=tz)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def month_summary(room: StoreRoom, start: dt.datetime, end: dt.datetime) -> dict:
    policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    hourly = ReadingAggregate.objects.filter(
        room=room,
        bucket=AggregateBucket.HOUR,
        start__gte=start,
        start__lt=end,
        sensor__kind=SensorKind.CLIMATE,
    )
    stats = hourly.aggregate(
        t_min=Min("temperature_min"),
        t_max=Max("temperature_max"),
        t_mean=Avg("temperature_mean"),
        h_min=Min("humidity_min"),
        h_max=Max("humidity_max"),
        h_mean=Avg("humidity_mean"),
    )
    hours_out: set[dt.datetime] = set()
    daily: dict[dt.date, list[tuple[float | None, float | None]]] = defaultdict(list)
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    for hour, tmean, hmean in hourly.values_list("start", "temperature_mean", "humidity_mean"):
        if (tmean is not None and not policy.temp_min <= tmean <= policy.temp_max) or (
            hmean is not None and not policy.rh_min <= hmean <= policy.rh_max
        ):
            hours_out.add(hour)
        daily[hour.astimezone(tz).date()].append((tmean, hmean))
    series = []
    for day in sorted(daily):
        temps = [t for t, _ in daily[day] if t is not None]
        hums = [h for _, h in daily[day] if h is not None]
        series.append(
            (
                day,
                sum(temps) / len(temps) if temps else None,
                sum(hums) / len(hums) if hums else None,
            )
        )
    alarms = list(
        Alarm.objects.filter(room=room, raised_at__gte=start, raised_at__lt=end).order_by(
            "raised_at"
        )
    )
    return {
        "policy": policy,
        "stats": stats,
        "hours_out": len(hours_out),
        "series": series,
        "alarms": alarms,
    }


def _chart(series, policy, font: str) -> Drawing:
    drawing = Drawing(170 * mm, 70 * mm)
    plot = LinePlot()
    plot.x, plot.y = 12 * mm, 10 * mm
    plot.width, plot.height = 150 * mm, 52 * mm
    temps = [(d.day, t) for d, t, _ in series if t is not None]
    hums = [(d.day, h) for d, _, h in series if h is not None]
    plot.data = [temps or [(1, 0)], hums or [(1, 0)]]
    plot.lines[0].strokeColor = colors.HexColor("#c62828")
    plot.lines[1].strokeColor = colors.HexColor("#1565c0")
    for line in (plot.lines[0], plot.lines[1]):
        line.symbol = makeMarker("FilledCircle", size=2)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 1, 31
    plot.xValueAxis.valueSteps = [1, 5, 10, 15, 20, 25, 31]
    plot.yValueAxis.valueMin = 0
    plot.yValueAxis.valueMax = 100
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName = font
        axis.labels.fontSize = 7
    drawing.add(plot)
    drawing.add(
        String(
            12 * mm,
            66 * mm,
            "日均温度 °C（红） / 日均相对湿度 %RH（蓝）",
            fontName=font,
            fontSize=8,
        )
    )
    return drawing


def monthly_report_pdf(room: StoreRoom, month: str) -> bytes:
    start, end = month_bounds(month)
    summary = month_summary(room, start, end)
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, title=f"{room.code} {month}"
    )
    policy, stats = summary["policy"], summary["stats"]

    def num(value, unit):
        return "–" if value is None else f"{value:.1f} {unit}"

    story = [
        Paragraph(f"库房温湿度月报 {month}", title),
        Paragraph(f"{room.code} {room.name}（{room.get_template_display()}）", body),
        Paragraph(
            f"标准范围：{policy.temp_min:g}–{policy.temp_max:g} °C，"
            f"{policy.rh_min:g}–{policy.rh_max:g} %RH；"
            f"生成于 {timezone.localtime():%Y-%m-%d %H:%M}",
            body,
        ),
        Spacer(1, 4 * mm),
    ]
    table = Table(
        [
            ["", "最低", "最高", "平均"],
            [
                "温度",
                num(stats["t_min"], "°C"),
                num(stats["t_max"], "°C"),
                num(stats["t_mean"], "°C"),
            ],
            [
                "相对湿度",
                num(stats["h_min"], "%RH"),
                num(stats["h_max"], "%RH"),
                num(stats["h_mean"], "%RH"),
            ],
            ["超标小时数", str(summary["hours_out"]), "", ""],
        ],
        colWidths=[35 * mm, 40 * mm, 40 * mm, 40 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
            ]
        )
    )
    story += [table, Spacer(1, 4 * mm), _chart(summary["series"], policy, font)]
    story.append(Paragraph(f"本月告警（{len(summary['alarms'])}）", body))
    rows = [["时间", "告警", "状态", "确认人"]]
    for alarm in summary["alarms"][:200]:
        rows.append(
            [
                f"{timezone.localtime(alarm.raised_at):%m-%d %H:%M}",
                Paragraph(f"{alarm.get_rule_display()}：{alarm.message}", body),
                str(alarm.get_state_display()),
                alarm.acknowledged_by.username if alarm.acknowledged_by_id else "",
            ]
        )
    if len(rows) == 1:
        rows.append(["", "无", "", ""])
    alarms_table = Table(rows, colWidths=[25 * mm, 95 * mm, 20 * mm, 25 * mm], repeatRows=1)
    alarms_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(alarms_table)
    doc.build(story)
    return buffer.getvalue()
