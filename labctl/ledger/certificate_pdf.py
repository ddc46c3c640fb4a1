"""The human-readable page of a cast certificate: summary, chain, digests and process curves.

A rendering only: the evidence is the DSSE envelope and the tlog-proof beside it. Drawn with
fpdf2's core fonts (Latin-1) and plain vector polylines, so it needs no fonts or images.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

Series = Sequence[tuple[float, float]]  # (seconds from the start, value)
_COLOURS = ((200, 30, 30), (30, 90, 200), (20, 140, 60), (150, 80, 0))


@dataclass(frozen=True, slots=True)
class Plot:
    """One chart: named series sharing an axis."""

    title: str
    unit: str
    series: dict[str, Series]
    log_scale: bool = False


@dataclass(frozen=True, slots=True)
class CertificatePage:
    """What the page shows."""

    title: str
    facts: list[tuple[str, str]]  # label, value
    chain: list[str]  # lot -> melt -> cast, one line each
    digests: list[tuple[str, str]]
    plots: list[Plot] = field(default_factory=list)


def _latin1(text: str) -> str:
    return (
        text.replace("→", "->")
        .replace("—", "-")
        .replace("‰", " permil")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def render(page: CertificatePage, path: Path) -> None:
    """Write ``page`` as a one- or two-page A4 PDF at ``path``."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(page.title), new_x="LMARGIN", new_y="NEXT")
    _table(pdf, page.facts)
    _heading(pdf, "Chain of custody")
    pdf.set_font("Helvetica", "", 9)
    for line in page.chain:
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "Evidence (verify with labctl ledger verify-certificate and log.vkey)")
    pdf.set_font("Courier", "", 7)
    for label, value in page.digests:
        pdf.multi_cell(0, 4, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    for plot in page.plots:
        _chart(pdf, plot)
    pdf.output(str(path))


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(45, 5, _latin1(label))
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")


def _chart(pdf: FPDF, plot: Plot, height: float = 55.0) -> None:
    points = [p for s in plot.series.values() for p in s if not plot.log_scale or p[1] > 0]
    if not points:
        return
    if pdf.get_y() + height + 15 > pdf.h - pdf.b_margin:
        pdf.add_page()
    _heading(pdf, f"{plot.title} ({plot.unit})")
    left, top, width = pdf.l_margin + 12, pdf.get_y() + 2, pdf.w - pdf.l_margin - pdf.r_margin - 12
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    scale = _log10 if plot.log_scale else float
    v0, v1 = min(scale(p[1]) for p in points), max(scale(p[1]) for p in points)
    t1, v1 = (t1 if t1 > t0 else t0 + 1), (v1 if v1 > v0 else v0 + 1)
    pdf.set_draw_color(120, 120, 120)
    pdf.rect(left, top, width, height)
    pdf.set_font("Helvetica", "", 7)
    for value, y in ((v1, top), (v0, top + height - 3)):
        label = f"{10**value:.3g}" if plot.log_scale else f"{value:.0f}"
        pdf.text(pdf.l_margin, y + 3, label)
    pdf.text(left, top + height + 4, "0")
    pdf.text(left + width - 20, top + height + 4, f"{(t1 - t0) / 60:.0f} min")
    for n, (name, series) in enumerate(plot.series.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        pdf.set_draw_color(*colour)
        xy = [
            (
                left + (t - t0) / (t1 - t0) * width,
                top + height - (scale(v) - v0) / (v1 - v0) * height,
            )
            for t, v in series
            if not plot.log_scale or v > 0
        ]
        for a, b in itertools.pairwise(xy):
            pdf.line(a[0], a[1], b[0], b[1])
        pdf.set_text_color(*colour)
        pdf.text(left + 2 + 45 * n, top + height + 8, _latin1(name))
        pdf.set_text_color(0, 0, 0)
    pdf.set_y(top + height + 11)


def _log10(value: float) -> float:
    return math.log10(value)
