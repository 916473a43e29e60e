"""The charts of `tracker report --html` and `--email`: PNG images drawn with matplotlib (imported only here)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

COLOURS = {"met": "#2e7d32", "breached": "#c62828", "bar": "#1f4e79", "target": "#d68910"}


@dataclass(frozen=True)
class Chart:
    """One chart: a name usable as a Content-ID, its heading, a text alternative, and the PNG."""

    name: str
    title: str
    alt: str
    png: bytes


def _figure(rows: int, legend: bool = False) -> Any:
    """A figure for `rows` bars; `legend`: room below the plot for a legend (see `_legend`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # a figure of its own, drawn by Agg: no pyplot state, no backend chosen

    height = max(2.2, 0.9 + 0.42 * rows) + (0.3 if legend else 0)
    fig = Figure(figsize=(6.4, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)
    return fig, ax


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})  # no version stamp: the same data, the same bytes
    return out.getvalue()


def _legend(fig: Any) -> None:
    """The legend below the plot, its items side by side: inside the plot it covered the longest bar."""
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)


def _hours(minutes: float | None) -> float:
    return (minutes or 0) / 60


def charts(data: dict[str, Any]) -> list[Chart]:
    """The report's charts, each only when it has something to show and its figures are not withheld."""
    drawn = (_events_by_group(data), _time_to_restore(data), _attainment(data))
    return [chart for chart in drawn if chart is not None]


def _events_by_group(data: dict[str, Any]) -> Chart | None:
    """Events per group (severity, service, month or category), a bar each."""
    groups = data["groups"]
    if not groups:
        return None
    fig, ax = _figure(len(groups))
    labels = [str(g["label"]) for g in groups][::-1]
    counts = [g["events"] for g in groups][::-1]
    ax.barh(labels, counts, color=COLOURS["bar"])
    for y, count in enumerate(counts):
        ax.text(count, y, f" {count}", va="center", fontsize=9)
    ax.set_xlabel("events")
    ax.xaxis.get_major_locator().set_params(integer=True)
    alt = "Events by " + data["by"] + ": " + ", ".join(f"{g['label']} {g['events']}" for g in groups)
    return Chart("events-by-group", f"Events by {data['by']}", alt, _png(fig))


def _time_to_restore(data: dict[str, Any]) -> Chart | None:
    """By severity: the median time to restore against the restoration target."""
    groups = data["groups"]
    sla = {s["severity"]: s for s in data["sla"]}
    restored = (
        [g for g in groups if g["time_to_restore_median_minutes"] is not None] if data["by"] == "severity" else []
    )
    if not restored:
        return None
    fig, ax = _figure(len(restored), legend=True)
    labels = [str(g["label"]) for g in restored][::-1]
    medians = [_hours(g["time_to_restore_median_minutes"]) for g in restored][::-1]
    ax.barh(labels, medians, color=COLOURS["bar"], label="median time to restore")
    words = []
    for y, g in enumerate(restored[::-1]):
        timer = (sla.get(str(g["key"])) or {}).get("restoration") or {}
        target = timer.get("target_minutes")
        if target:
            ax.plot([target / 60] * 2, [y - 0.4, y + 0.4], color=COLOURS["target"], linewidth=3)
        words.append(
            f"{g['label']} {_hours(g['time_to_restore_median_minutes']):.1f} h"
            + (f" (target {target / 60:g} h)" if target else "")
        )
    targets = any("target" in w for w in words)
    if targets:
        ax.plot([], [], color=COLOURS["target"], linewidth=3, label="target")
    ax.set_xlabel("hours")
    _legend(fig)
    return Chart(
        "time-to-restore",
        "Median time to restore" + (" against target" if targets else ""),
        "Median time to restore: " + ", ".join(reversed(words)),
        _png(fig),
    )


def _attainment(data: dict[str, Any]) -> Chart | None:
    """Per severity: events whose restoration target was met, and breached."""
    rated = [s for s in data["sla"] if s["restoration"] is not None and s["restoration"]["share_met"] is not None]
    if not rated:
        return None
    fig, ax = _figure(len(rated), legend=True)
    labels = [s["label"] for s in rated][::-1]
    met = [s["restoration"]["met"] for s in rated][::-1]
    breached = [s["restoration"]["breached"] for s in rated][::-1]
    ax.barh(labels, met, color=COLOURS["met"], label="met")
    ax.barh(labels, breached, left=met, color=COLOURS["breached"], label="breached")
    ax.set_xlabel("events")
    ax.xaxis.get_major_locator().set_params(integer=True)
    _legend(fig)
    alt = "Restoration target met: " + ", ".join(
        f"{s['label']} {s['restoration']['met']} of {s['restoration']['met'] + s['restoration']['breached']}"
        for s in rated
    )
    return Chart("restoration-attainment", "Restoration target met or breached", alt, _png(fig))
