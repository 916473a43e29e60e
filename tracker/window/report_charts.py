"""The charts of `tracker report --html` and `--email`: each row a line of words (what, and its figure) over its bar.

Drawn once (`tracker.window.drawing`), shown as inline SVG on the page and as a PNG in the email. The words sit
above the bars, not beside them, so a long severity wording or event ID never squeezes a bar, and the chart reads
at a phone's width: WIDTH units are drawn at about 330 px in the page's three columns at 1280 px and in its one
column at 375 px, so the SIZE-unit text renders at about 12 px in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.window.drawing import INK, MUTED, SIZE, Box, Drawing, Rule, Words, fit, text_width
from tracker.window.report import minutes_text

COLOURS = {"met": "#2e7d32", "breached": "#c62828", "bar": "#1f4e79", "pending": "#6b7280", "track": "#eef2f7"}
WIDTH = 360.0
PAD = 4.0
ROW = 42.0  # from one row's words to the next row's
BAR = 14.0
BAR_TOP = 19.0  # a row's bar, below its line of words
WORST = 10  # events in the against-target chart
PNG_PIXELS = 1200  # the email shows a chart 600 px wide: twice that stays sharp on a high-density screen


@dataclass(frozen=True)
class Chart:
    """One chart: a name usable as a Content-ID, its heading, a text alternative, and the drawing."""

    name: str
    title: str
    alt: str
    drawing: Drawing

    @property
    def svg(self) -> str:
        """The chart as inline SVG."""
        return self.drawing.svg()

    @property
    def png(self) -> bytes:
        """The chart as a PNG, for an email."""
        return self.drawing.png(PNG_PIXELS)


@dataclass(frozen=True)
class _Row:
    label: str
    value: str  # the figure, at the right end of the row's line
    segments: tuple[tuple[float, str, str], ...]  # (share of the plot's width, colour, tip), left to right


def charts(data: dict[str, Any], against: list[dict[str, Any]] | None = None) -> list[Chart]:
    """The report's charts, each only when it has something to show and its figures are not withheld. `against`:
    the events measured against their restoration target (`Report.against_target`); None or [] draws no such chart,
    and the median time to restore per severity instead."""
    drawn = (
        _events_by_group(data),
        _against_target(against) if against else _time_to_restore(data),
        _attainment(data),
    )
    return [chart for chart in drawn if chart is not None]


def _events_by_group(data: dict[str, Any]) -> Chart | None:
    """Events per group (severity, service, month or category), and how many are still open."""
    groups = data["groups"]
    if not groups:
        return None
    most = max(g["events"] for g in groups) or 1
    rows = [
        _Row(
            str(g["label"]),
            f"{g['events']:,}" + (f" ({g['open']:,} open)" if g["open"] else ""),
            ((g["events"] / most, COLOURS["bar"], f"{g['label']}: {g['events']} events"),),
        )
        for g in groups
    ]
    alt = "Events by " + data["by"] + ": " + ", ".join(f"{g['label']} {g['events']}" for g in groups)
    title = f"Events by {data['by']}"
    return Chart("events-by-group", title, alt, _bar_list("events-by-group", title, alt, rows))


def _time_to_restore(data: dict[str, Any]) -> Chart | None:
    """By severity, the median time to restore (for a reader who may not read the targets)."""
    restored = (
        [g for g in data["groups"] if g["time_to_restore_median_minutes"] is not None]
        if data["by"] == "severity"
        else []
    )
    if not restored:
        return None
    longest = max(g["time_to_restore_median_minutes"] for g in restored) or 1
    rows = [
        _Row(
            str(g["label"]),
            minutes_text(g["time_to_restore_median_minutes"]),
            ((g["time_to_restore_median_minutes"] / longest, COLOURS["bar"], ""),),
        )
        for g in restored
    ]
    alt = "Median time to restore: " + ", ".join(f"{r.label} {r.value}" for r in rows)
    title = "Median time to restore"
    return Chart("time-to-restore", title, alt, _bar_list("time-to-restore", title, alt, rows))


def _against_target(events: list[dict[str, Any]]) -> Chart:
    """Each event's time to restore (or time open so far) as a share of its severity's restoration target, the
    furthest past it first: one dashed line marks the target, so events of different severities compare at a
    glance; the words give the times themselves."""
    shown = events[:WORST]
    furthest = max(e["minutes"] / e["target_minutes"] for e in shown)
    scale = min(3.0, max(1.25, furthest * 1.05))  # in targets; a bar further than 3 targets runs to the edge
    rows = []
    for e in shown:
        share = e["minutes"] / e["target_minutes"]
        so_far = " so far" if e["open"] else ""
        value = f"{minutes_text(e['minutes'])}{so_far} of {minutes_text(e['target_minutes'])}"
        tip = f"{e['id']}: {e['state']}, {share:.1f} times its target" if share >= 1 else f"{e['id']}: {e['state']}"
        rows.append(_Row(f"{e['id']} · {e['label']}", value, ((min(share, scale) / scale, COLOURS[e["state"]], tip),)))
    marks = [(1 / scale, "target")] + ([(2 / scale, "2× target")] if scale >= 2.2 else [])
    legend = [
        (COLOURS[s], w) for s, w in (("met", "met"), ("breached", "breached"), ("pending", "open, within target"))
    ]
    legend = [item for item in legend if any(COLOURS[e["state"]] == item[0] for e in shown)]
    title = "Time to restore against target"
    note = f"The {len(shown)} furthest of {len(events):,} with a target" if len(events) > len(shown) else ""
    alt = f"Time to restore against the restoration target{'; ' + note.lower() if note else ''}: " + ", ".join(
        f"{r.label} {r.value} ({e['state']})" for r, e in zip(rows, shown, strict=True)
    )
    drawing = _bar_list("time-to-restore", title, alt, rows, legend=legend, marks=marks, note=note)
    return Chart("time-to-restore", title, alt, drawing)


def _attainment(data: dict[str, Any]) -> Chart | None:
    """Per severity: events whose restoration target was met, and breached."""
    rated = [s for s in data["sla"] if s["restoration"] is not None and s["restoration"]["share_met"] is not None]
    if not rated:
        return None
    most = max(s["restoration"]["met"] + s["restoration"]["breached"] for s in rated)
    rows = []
    for s in rated:
        met, breached = s["restoration"]["met"], s["restoration"]["breached"]
        rows.append(
            _Row(
                str(s["label"]),
                f"{met:,} of {met + breached:,} met",
                (
                    (met / most, COLOURS["met"], f"{s['label']}: {met} met"),
                    (breached / most, COLOURS["breached"], f"{s['label']}: {breached} breached"),
                ),
            )
        )
    legend = [(COLOURS["met"], "met"), (COLOURS["breached"], "breached")]
    alt = "Restoration target met: " + ", ".join(f"{r.label} {r.value}" for r in rows)
    title = "Restoration target met or breached"
    drawing = _bar_list("restoration-attainment", title, alt, rows, legend=legend)
    return Chart("restoration-attainment", title, alt, drawing)


def _legend(items: list[tuple[str, str]], top: float) -> tuple[list[Box | Rule | Words], float]:
    """Colour keys side by side, on a new line when the next would not fit; returns the shapes and the y below."""
    shapes: list[Box | Rule | Words] = []
    x, y = PAD, top
    for colour, words in items:
        width = 16 + text_width(words)
        if x > PAD and x + width > WIDTH - PAD:
            x, y = PAD, y + 20
        shapes += [Box(x, y + 2, 11, 11, colour), Words(x + 16, y + 12, words, colour=MUTED)]
        x += width + 14
    return shapes, y + 24


def _bar_list(
    ident: str,
    title: str,
    desc: str,
    rows: list[_Row],
    *,
    legend: list[tuple[str, str]] | None = None,
    marks: list[tuple[float, str]] | None = None,
    note: str = "",
) -> Drawing:
    """Rows of words over bars; `note` (a line saying what is shown) and `legend` on top; `marks`: dashed lines
    across the bars at these shares of the plot's width, each named above the first bar."""
    plot = WIDTH - 2 * PAD
    shapes: list[Box | Rule | Words] = []
    y = PAD
    if note:
        shapes.append(Words(PAD, y + SIZE, fit(note, plot), colour=MUTED))
        y += 20
    if legend:
        keys, y = _legend(legend, y)
        shapes += keys
    if marks:
        for share, words in marks:
            x = PAD + share * plot
            half = text_width(words) / 2
            anchor = "end" if x + half > WIDTH - PAD else "start" if x - half < PAD else "middle"
            shapes.append(Words(x, y + 12, words, anchor=anchor, colour=MUTED))
        y += 18
    for row in rows:
        value_room = text_width(row.value)
        shapes.append(Words(PAD, y + SIZE, fit(row.label, plot - value_room - 12)))
        shapes.append(Words(WIDTH - PAD, y + SIZE, row.value, anchor="end", bold=True))
        shapes.append(Box(PAD, y + BAR_TOP, plot, BAR, COLOURS["track"]))
        x = PAD
        for share, colour, tip in row.segments:
            width = max(share * plot, 2.0) if share > 0 else 0.0  # a sliver, not nothing, for a tiny figure
            shapes.append(Box(x, y + BAR_TOP, width, BAR, colour, tip))
            x += width
        for share, _words in marks or []:  # across the bar only: a line through the next row's words hides them
            x = PAD + share * plot
            shapes.append(Rule(x, y + BAR_TOP - 3, x, y + BAR_TOP + BAR + 3, colour=INK, width=1.5, dashed=True))
        y += ROW
    return Drawing(ident, WIDTH, y - ROW + BAR_TOP + BAR + PAD + 3, title, desc, shapes)
