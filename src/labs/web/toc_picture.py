"""A Theory of Change drawn as SVG on the server: the chain in columns from activities to impact
with its "leads to" arrows, and the actors, boosters, barriers and assumptions in a band below,
each joined by a dashed line to the step it is about. The page lists the same content as text."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from xml.sax.saxutils import escape

from labs.models import TocKind, TocNode
from labs.services.toc import AROUND, CHAIN, Theory

BOX_W, LINE_H, PAD, GAP_X, GAP_Y, HEAD = 180, 16, 8, 50, 16, 40
WRAP = 24  # characters per line inside a box
COLOURS = {
    TocKind.activity: "#dbeafe",
    TocKind.output: "#e0e7ff",
    TocKind.short_term: "#dcfce7",
    TocKind.medium_term: "#bbf7d0",
    TocKind.long_term: "#86efac",
    TocKind.impact: "#fde68a",
    TocKind.actor: "#f3f4f6",
    TocKind.booster: "#d1fae5",
    TocKind.barrier: "#fee2e2",
    TocKind.assumption: "#fef9c3",
}


def _lines(node: TocNode) -> list[str]:
    return textwrap.wrap(node.title, WRAP, max_lines=4, placeholder=" …") or [""]


def draw(theory: Theory, label: Callable[[str], str], title: str) -> str:
    """The SVG document. `label` gives the reader's words for a kind (column headings)."""
    boxes: dict[int, tuple[float, float, float, float]] = {}
    parts: list[str] = []

    def column(kinds: tuple[TocKind, ...], top: float) -> float:
        bottom = top
        for i, kind in enumerate(kinds):
            x = PAD + i * (BOX_W + GAP_X)
            heading = escape(label(kind.value))
            parts.append(f'<text x="{x}" y="{top + 16}" class="head" font-weight="700">{heading}</text>')
            y = top + HEAD
            for node in theory.of_kind(kind):
                lines = _lines(node)
                h = len(lines) * LINE_H + 2 * PAD
                boxes[node.id] = (x, y, BOX_W, h)
                parts.append(
                    f'<g class="node" data-node="{node.id}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" '
                    f'rx="6" fill="{COLOURS[kind]}" stroke="#374151"/>'
                    + "".join(
                        f'<text x="{x + PAD}" y="{y + PAD + (j + 1) * LINE_H - 4}">{escape(line)}</text>'
                        for j, line in enumerate(lines)
                    )
                    + "</g>"
                )
                y += h + GAP_Y
            bottom = max(bottom, y)
        return bottom

    chain_bottom = column(CHAIN, 0)
    band_top = chain_bottom + 30
    band_bottom = column(AROUND, band_top)
    links = []
    for link in theory.links:
        if link.from_id in boxes and link.to_id in boxes:
            x1, y1, w1, h1 = boxes[link.from_id]
            x2, y2, _w2, h2 = boxes[link.to_id]
            links.append(
                f'<line x1="{x1 + w1}" y1="{y1 + h1 / 2}" x2="{x2 - 2}" y2="{y2 + h2 / 2}" '
                f'class="leads-to" stroke="#1d4ed8" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    for node in theory.nodes:
        if node.about_id in boxes and node.id in boxes:
            x1, y1, w1, _h1 = boxes[node.id]
            x2, y2, w2, h2 = boxes[node.about_id]
            links.append(
                f'<line x1="{x1 + w1 / 2}" y1="{y1}" x2="{x2 + w2 / 2}" y2="{y2 + h2}" class="about" '
                'stroke="#6b7280" stroke-dasharray="4 3"/>'
            )
    width = PAD * 2 + len(CHAIN) * BOX_W + (len(CHAIN) - 1) * GAP_X
    height = band_bottom + PAD
    summary = f"{len(theory.chain)} steps, {len(theory.links)} links, {len(theory.nodes) - len(theory.chain)} around"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-labelledby="toc-svg-title toc-svg-desc" class="toc-picture" '
        # Presentation attributes, not a <style> element: the pages' CSP allows no inline styles.
        'font-family="system-ui, sans-serif" font-size="13" fill="#111827">'
        f'<title id="toc-svg-title">{escape(title)}</title><desc id="toc-svg-desc">{escape(summary)}</desc>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#1d4ed8"/></marker></defs>'
        f'<line x1="0" y1="{band_top - 15}" x2="{width}" y2="{band_top - 15}" stroke="#d1d5db"/>'
        + "".join(links)
        + "".join(parts)
        + "</svg>"
    )
