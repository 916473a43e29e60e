"""A chart as a few boxes, rules and words in its own units, drawn as inline SVG (the HTML report) or as a PNG
(emails: mail clients show no SVG), so the page and the email show the same chart.

Nothing here measures a font: text widths are estimated generously (`text_width`) for the widest common sans-serif
(DejaVu Sans, Debian's default and matplotlib's), so a label laid out to fit does fit in any reader's font.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from typing import Any

INK, MUTED, GRID = "#1f2937", "#4b5563", "#d1d5db"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"
SIZE = 13  # the one text size, in the drawing's units (see report_charts.WIDTH for the size it renders at)

# Advance widths in ems, rounded up from DejaVu Sans (wider than Segoe UI, Roboto or Arial).
_NARROW = set("iljtfr.,:;'!|()[] ")
_WIDE = set("mwMW@%")
_CAPITAL = 0.76
_OTHER = 0.64


def text_width(text: str, size: float = SIZE) -> float:
    """The width `text` takes at `size`, estimated on the generous side."""
    ems = 0.0
    for char in text:
        if char in _NARROW:
            ems += 0.36
        elif char in _WIDE:
            ems += 0.98
        elif char.isupper():
            ems += _CAPITAL
        else:
            ems += _OTHER
    return ems * size


def fit(text: str, room: float, size: float = SIZE) -> str:
    """`text`, cut short with an ellipsis when it would be wider than `room`."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


@dataclass(frozen=True)
class Box:
    """A filled rectangle; `tip`: what a pointer over it shows."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    tip: str = ""


@dataclass(frozen=True)
class Rule:
    """A straight line, solid or dashed."""

    x1: float
    y1: float
    x2: float
    y2: float
    colour: str = MUTED
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class Words:
    """One line of text at its baseline: `anchor` start, middle or end."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    colour: str = INK
    bold: bool = False


@dataclass
class Drawing:
    """A chart: its size in its own units, a title and a description for screen readers, and its shapes."""

    ident: str
    width: float
    height: float
    title: str
    desc: str
    shapes: list[Box | Rule | Words] = field(default_factory=list)

    def svg(self) -> str:
        """Inline SVG that scales to its container's width, its text at SIZE units."""
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width:g} {self.height:g}" width="100%" '
            f'role="img" aria-labelledby="{self.ident}-title {self.ident}-desc" font-family="{FONT}" '
            f'font-size="{SIZE}" fill="{INK}">',
            f'<title id="{self.ident}-title">{html.escape(self.title)}</title>',
            f'<desc id="{self.ident}-desc">{html.escape(self.desc)}</desc>',
        ]
        for shape in self.shapes:
            out.append(_svg_shape(shape))
        out.append("</svg>")
        return "\n".join(out)

    def png(self, pixels: int) -> bytes:
        """The same drawing as a PNG `pixels` wide (matplotlib, imported here; its Agg renderer, no pyplot)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        dpi = 100 * pixels / self.width  # one unit is pixels / width px; points are units * 0.72 at any dpi
        figure = Figure(figsize=(self.width / 100, self.height / 100), dpi=dpi)
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, self.width)
        axes.set_ylim(self.height, 0)
        axes.axis("off")
        for shape in self.shapes:
            if isinstance(shape, Box):
                axes.add_patch(Rectangle((shape.x, shape.y), shape.width, shape.height, facecolor=shape.colour,
                                         linewidth=0))  # fmt: skip
            elif isinstance(shape, Rule):
                axes.plot([shape.x1, shape.x2], [shape.y1, shape.y2], color=shape.colour, linewidth=shape.width * 0.72,
                          linestyle=(0, (4, 3)) if shape.dashed else "-", solid_capstyle="butt")  # fmt: skip
            else:
                axes.text(shape.x, shape.y, shape.text, fontsize=SIZE * 0.72, color=shape.colour, va="baseline",
                          ha=_HA[shape.anchor], fontweight="bold" if shape.bold else "normal",
                          parse_math=False)  # fmt: skip  # (a service named "$x $y" is words, not TeX)
        out = io.BytesIO()
        figure.savefig(out, format="png", facecolor="white", metadata={"Software": None})  # no version stamp
        return out.getvalue()


_HA = {"start": "left", "middle": "center", "end": "right"}


def _svg_shape(shape: Any) -> str:
    if isinstance(shape, Box):
        tip = f"<title>{html.escape(shape.tip)}</title>" if shape.tip else ""
        return (
            f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{max(shape.width, 0):.1f}" height="{shape.height:.1f}" '
            f'fill="{shape.colour}">{tip}</rect>'
        )
    if isinstance(shape, Rule):
        dash = ' stroke-dasharray="4 3"' if shape.dashed else ""
        return (
            f'<line x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" x2="{shape.x2:.1f}" y2="{shape.y2:.1f}" '
            f'stroke="{shape.colour}" stroke-width="{shape.width:g}"{dash}/>'
        )
    anchor = "" if shape.anchor == "start" else f' text-anchor="{shape.anchor}"'
    colour = "" if shape.colour == INK else f' fill="{shape.colour}"'
    bold = ' font-weight="600"' if shape.bold else ""
    return f'<text x="{shape.x:.1f}" y="{shape.y:.1f}"{anchor}{colour}{bold}>{html.escape(shape.text)}</text>'
