"""The status page's two small charts: events per week by severity, and the restoration time trend.

Drawn twice from the same data: as inline SVG in pure Python for the HTML page (no plotting library
to import, so `tracker publish` stays fast), and as PNG with matplotlib for SharePoint's image web
parts (imported only when asked).
"""

from __future__ import annotations

import colorsys
import html
from dataclasses import dataclass
from datetime import date
from typing import Any

# Used in order when the schema gives a severity no colour (`x-colours` on Severities.name).
FALLBACK_COLOURS = ("#b91c1c", "#c2410c", "#a16207", "#15803d", "#1f4e78", "#6b21a8", "#0f766e", "#4b5563")
WIDTH, HEIGHT = 360, 220  # the SVG's own units: at 375 px wide it is drawn about 1:1, so 11-unit text stays legible
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"
_INK, _MUTED, _GRID = "#1f2937", "#4b5563", "#e5e7eb"
# The weekly legend: its left (and right) margin, the height of one line, and a generous width per character of
# 13-unit text (DejaVu Sans, Debian's default sans-serif, averages about 7.5; capitals and W run wider).
LEGEND_LEFT, LEGEND_LINE, LEGEND_CHAR = 4.0, 18, 8.2


@dataclass(frozen=True)
class Series:
    """One severity's counts, one per week."""

    name: str
    colour: str  # "#rrggbb"
    values: tuple[int, ...]


@dataclass(frozen=True)
class WeeklyCounts:
    """Events per week by severity: `weeks` are the weeks' first days, oldest first."""

    weeks: tuple[date, ...]
    series: tuple[Series, ...]

    @property
    def totals(self) -> tuple[int, ...]:
        """Events per week, all severities together."""
        return tuple(sum(s.values[i] for s in self.series) for i in range(len(self.weeks)))


@dataclass(frozen=True)
class Trend:
    """Median restoration time in hours of the events restored each week (None: none restored that week)."""

    weeks: tuple[date, ...]
    hours: tuple[float | None, ...]
    counts: tuple[int, ...]  # events restored each week


def strong(colour: str) -> str:
    """A colour dark enough for bars and text on white, of the same hue as `colour` (the workbook's pale cell
    fills, e.g. FFC7CE, become a deep red)."""
    red, green, blue = (int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, _light, saturation = colorsys.rgb_to_hls(red, green, blue)
    red, green, blue = colorsys.hls_to_rgb(hue, 0.36, max(saturation, 0.6))
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))


def pale(colour: str) -> str:
    """A light tint of `colour` for a badge's background."""
    red, green, blue = (int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, _light, saturation = colorsys.rgb_to_hls(red, green, blue)
    red, green, blue = colorsys.hls_to_rgb(hue, 0.92, min(max(saturation, 0.5), 0.9))
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))


def week_label(day: date) -> str:
    """`5 Oct`: a week by its first day."""
    return f"{day.day} {day.strftime('%b')}"


def _ticks(top: float) -> list[float]:
    """Three or four round gridline values from 0 up to at least `top`."""
    if top <= 0:
        return [0, 1]
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if top / step <= 4:
            break
    else:
        step = max(1, round(top / 4))
    count = int(-(-top // step))
    return [step * i for i in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:.1f}" if value < 10 and value != int(value) else f"{value:.0f}"


def _svg_open(ident: str, title: str, desc: str, height: float = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:g}" width="100%" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{_FONT}" font-size="13" fill="{_INK}">',
        f'<title id="{ident}-title">{html.escape(title)}</title>',
        f'<desc id="{ident}-desc">{html.escape(desc)}</desc>',
    ]


def _frame(left: float, top: float, right: float, bottom: float, ticks: list[float], unit: str = "") -> list[str]:
    """Gridlines with their values on the left."""
    out = []
    high = ticks[-1] or 1
    for value in ticks:
        y = bottom - (bottom - top) * value / high
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{_GRID}" stroke-width="1"/>')
        out.append(
            f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end" fill="{_MUTED}">{_number(value)}{unit}</text>'
        )
    return out


def _week_labels(weeks: tuple[date, ...], left: float, slot: float, y: float) -> list[str]:
    every = 1 if len(weeks) <= 6 else 2 if len(weeks) <= 12 else 3
    out = []
    for i, day in enumerate(weeks):
        if (len(weeks) - 1 - i) % every == 0:  # the latest week always has its label
            x = left + slot * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{y}" text-anchor="middle" fill="{_MUTED}">{week_label(day)}</text>')
    return out


def _legend(series: tuple[Series, ...]) -> list[list[tuple[float, Series]]]:
    """The legend's lines: each item (its x and series) goes on the current line while it fits in the chart's
    width, else starts the next one. Widths are estimated generously (no font is measured here), so a label is
    never cut off, whatever the reader's font; a long severity wording takes a line of its own."""
    lines: list[list[tuple[float, Series]]] = [[]]
    x = LEGEND_LEFT
    for item in series:
        width = 15 + LEGEND_CHAR * len(item.name)
        if lines[-1] and x + width > WIDTH - LEGEND_LEFT:
            lines.append([])
            x = LEGEND_LEFT
        lines[-1].append((x, item))
        x += width + 14
    return lines


def weekly_svg(data: WeeklyCounts, *, ident: str = "weekly", title: str = "Events per week by severity") -> str:
    """Stacked bars, one per week, coloured by severity, with each week's total above its bar and a legend."""
    totals = data.totals
    total = sum(totals)
    by_severity = ", ".join(f"{s.name} {sum(s.values)}" for s in data.series if sum(s.values))
    span = f"{week_label(data.weeks[0])} to {week_label(data.weeks[-1])}" if data.weeks else ""
    desc = f"{total} event{'' if total == 1 else 's'} in the {len(data.weeks)} weeks from {span}" + (
        f": {by_severity}." if total else "."
    )
    legend = _legend(data.series)
    extra = LEGEND_LINE * (max(len(legend), 1) - 1)  # the plot keeps its height; the chart grows by the lines
    tall = HEIGHT + extra
    out = _svg_open(ident, title, desc, tall)
    left, right, top, bottom = 30.0, WIDTH - 16.0, 34.0 + extra, tall - 24.0
    out.append('<g class="legend">')
    for line, items in enumerate(legend):
        line_y = 6 + LEGEND_LINE * line
        for item_x, series in items:
            out.append(f'<rect x="{item_x:.1f}" y="{line_y}" width="11" height="11" rx="2" fill="{series.colour}"/>')
            out.append(f'<text x="{item_x + 15:.1f}" y="{line_y + 9.5}">{html.escape(series.name)}</text>')
    out.append("</g>")
    ticks = _ticks(max(totals, default=0))
    out += _frame(left, top, right, bottom, ticks)
    slot = (right - left) / max(len(data.weeks), 1)
    bar = min(slot * 0.62, 28)
    scale = (bottom - top) / (ticks[-1] or 1)
    for i, _day in enumerate(data.weeks):
        x = left + slot * i + (slot - bar) / 2
        y = bottom
        for series in data.series:
            value = series.values[i]
            if value:
                height = value * scale
                y -= height
                out.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{series.colour}">'
                    f"<title>{html.escape(week_label(data.weeks[i]))}: {value} {html.escape(series.name)}</title></rect>"
                )
        if totals[i]:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{totals[i]}</text>')
    empty = "" if total else "No events in these weeks"
    return _finish(out, data.weeks, (left, right, top, bottom), slot, tall - 8, empty)


def _finish(
    out: list[str],
    weeks: tuple[date, ...],
    box: tuple[float, float, float, float],
    slot: float,
    label_y: float,
    empty: str,
) -> str:
    """A chart's base line, its week labels, and `empty` (when there is nothing to draw) across the plot."""
    left, right, top, bottom = box
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{_MUTED}" stroke-width="1"/>')
    out += _week_labels(weeks, left, slot, label_y)
    if empty:
        out.append(
            f'<text x="{(left + right) / 2:.1f}" y="{(top + bottom) / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="{_MUTED}">{empty}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def trend_svg(data: Trend, *, ident: str = "trend", title: str = "Restoration time per week (median)") -> str:
    """A line through each week's median restoration time in hours, each point labelled with its value."""
    points = [(i, h) for i, h in enumerate(data.hours) if h is not None]
    if points:
        latest_i, latest_h = points[-1]
        desc = (
            f"Median hours from detection to restoration of the events restored each week; "
            f"{sum(data.counts)} event{'' if sum(data.counts) == 1 else 's'} restored in {len(data.weeks)} weeks; "
            f"week of {week_label(data.weeks[latest_i])}: {_number(latest_h)} hours."
        )
    else:
        desc = f"No events were restored in the {len(data.weeks)} weeks shown."
    out = _svg_open(ident, title, desc)
    left, right, top, bottom = 34.0, WIDTH - 16.0, 34.0, HEIGHT - 24.0
    out.append(f'<text x="2" y="15.5" fill="{_MUTED}">hours</text>')
    ticks = _ticks(max((h for _i, h in points), default=0))
    out += _frame(left, top, right, bottom, ticks, "")
    slot = (right - left) / max(len(data.weeks), 1)
    scale = (bottom - top) / (ticks[-1] or 1)
    xy = [(left + slot * (i + 0.5), bottom - h * scale, i, h) for i, h in points]
    run: list[str] = []
    previous = None
    for x, y, i, _h in xy:  # a gap where a week restored nothing
        if previous is not None and i != previous + 1 and len(run) > 1:
            out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#1f4e78" stroke-width="2"/>')
            run = []
        elif previous is not None and i != previous + 1:
            run = []
        run.append(f"{x:.1f},{y:.1f}")
        previous = i
    if len(run) > 1:
        out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#1f4e78" stroke-width="2"/>')
    for x, y, i, h in xy:
        n = data.counts[i]
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1f4e78"><title>{html.escape(week_label(data.weeks[i]))}: '
            f"median {_number(h)} h over {n} event{'s' if n != 1 else ''}</title></circle>"
        )
        out.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="11">{_number(h)}</text>')
    empty = "" if points else "No events restored in these weeks"
    return _finish(out, data.weeks, (left, right, top, bottom), slot, HEIGHT - 8, empty)


def weekly_png(data: WeeklyCounts, *, title: str = "Events per week by severity") -> bytes:
    """The weekly bars as a PNG (matplotlib, imported here), for places that take no SVG (SharePoint)."""
    figure, axes = _figure(title)
    labels = [week_label(d) for d in data.weeks]
    base = [0] * len(data.weeks)
    for series in data.series:
        axes.bar(labels, series.values, bottom=base, color=series.colour, label=series.name, width=0.62)
        base = [b + v for b, v in zip(base, series.values, strict=True)]
    for i, total in enumerate(base):
        if total:
            axes.annotate(str(total), (i, total), ha="center", va="bottom", fontsize=9, xytext=(0, 2),
                          textcoords="offset points")  # fmt: skip
    axes.yaxis.get_major_locator().set_params(integer=True)
    # Below the chart, beside each other while they fit in one line of the 640 px image, else two per line: a
    # legend inside the axes ran past the image's edge with the customer's longer severity words.
    one_line = sum(15 + len(s.name) for s in data.series) <= 90
    figure.legend(loc="outside lower center", ncols=max(len(data.series), 1) if one_line else 2, frameon=False,
                  fontsize=9)  # fmt: skip
    axes.set_ylim(0, max(max(base, default=0) * 1.25, 1))
    return _png(figure, axes, labels)


def trend_png(data: Trend, *, title: str = "Restoration time per week (median)") -> bytes:
    """The restoration trend as a PNG (matplotlib, imported here)."""
    figure, axes = _figure(title)
    labels = [week_label(d) for d in data.weeks]
    values = [float("nan") if h is None else h for h in data.hours]
    axes.plot(range(len(labels)), values, color="#1f4e78", marker="o", linewidth=2)
    for i, h in enumerate(data.hours):
        if h is not None:
            axes.annotate(_number(h), (i, h), ha="center", va="bottom", fontsize=9, xytext=(0, 4),
                          textcoords="offset points")  # fmt: skip
    axes.set_ylabel("hours, detection to restoration", fontsize=9)
    axes.set_ylim(0, max(max((h for h in data.hours if h is not None), default=0) * 1.25, 1))
    return _png(figure, axes, labels)


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11, loc="left")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color=_GRID)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Any, axes: Any, labels: list[str]) -> bytes:
    from io import BytesIO

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    axes.set_xticks(range(len(labels)), labels, fontsize=8, rotation=0)
    for i, tick in enumerate(axes.get_xticklabels()):
        tick.set_visible((len(labels) - 1 - i) % 2 == 0)
    FigureCanvasAgg(figure)
    out = BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
