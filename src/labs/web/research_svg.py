"""Pictures for the research pages, drawn on the server as SVG (no script, no CDN): the lineage
graph, and the charts' bars and heatmap. Text is escaped here; labels come translated from the
caller, so the module knows no language."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from labs.services.lineage import Graph, Node

# Shapes and colours per node kind; colours keep 3:1 against white (graphics contrast).
COLOURS = {
    "case": "#0b5cad",
    "derived_case": "#6f42c1",
    "session": "#1a7f37",
    "note": "#9a6700",
    "cluster": "#8250df",
    "outcome": "#cf222e",
    "follow_up": "#0a7480",
    "adoption": "#bc4c00",
}
COL_W, ROW_H, NODE_W, NODE_H, PAD = 230, 64, 200, 52, 16
TEXT_LIMIT = 26


def shape(kind: str, x: float, y: float, size: float = 11) -> str:
    """The marker of a node kind centred on (x, y)."""
    colour = COLOURS[kind]
    fill = f'fill="{colour}"'
    if kind in ("case", "derived_case"):
        inner = (
            f'<rect x="{x - size / 2:.1f}" y="{y - size / 2:.1f}" width="{size:.1f}" height="{size:.1f}" fill="#fff"/>'
            if kind == "derived_case"
            else ""
        )
        side = 2 * size
        return f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{side:.1f}" height="{side:.1f}" {fill}/>{inner}'
    if kind == "session":
        points = [
            (x - size, y),
            (x - size / 2, y - size),
            (x + size / 2, y - size),
            (x + size, y),
            (x + size / 2, y + size),
            (x - size / 2, y + size),
        ]
    elif kind == "note":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" {fill}/>'
    elif kind == "cluster":
        points = [(x, y - size), (x + size, y), (x, y + size), (x - size, y)]
    elif kind == "outcome":
        points = [(x, y - size), (x + size, y + size), (x - size, y + size)]
    elif kind == "follow_up":
        points = [(x - size, y - size), (x + size, y - size), (x, y + size)]
    else:  # adoption: a star
        points = []
        for i in range(10):
            radius = size if i % 2 == 0 else size * 0.45
            angle = math.pi / 2 + i * math.pi / 5
            points.append((x + radius * math.cos(angle), y - radius * math.sin(angle)))
    return f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" {fill}/>'


def _layers(graph: Graph) -> dict[str, int]:
    """Column of each node: the longest path to it from a node nothing points at (the trace runs
    left to right in time)."""
    depth = {key: 0 for key in graph.nodes}
    for _ in range(len(graph.nodes)):
        changed = False
        for edge in graph.edges:
            if depth[edge.target] < depth[edge.source] + 1 <= len(graph.nodes):
                depth[edge.target] = depth[edge.source] + 1
                changed = True
        if not changed:
            break
    return depth


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def lineage(graph: Graph, names: Mapping[str, str], title: str, adopted_in: str) -> str:
    """The trace as an SVG: one column per step, nodes as links (shape and colour by kind, city
    on the second line), edges as arrows. names: kind -> translated word; adopted_in: "Adopted
    in %(city)s" translated."""
    depth = _layers(graph)
    columns: dict[int, list[Node]] = {}
    for node in graph.dated():
        columns.setdefault(depth[node.key], []).append(node)
    where: dict[str, tuple[float, float]] = {}
    for col, nodes in columns.items():
        for row, node in enumerate(nodes):
            where[node.key] = (PAD + col * COL_W, PAD + row * ROW_H)
    width = PAD * 2 + max(columns, default=0) * COL_W + NODE_W
    height = PAD * 2 + max((len(n) for n in columns.values()), default=1) * ROW_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" role="group" aria-label="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>',
    ]
    for edge in graph.edges:
        (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
        sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        if tx <= sx:  # same column (should not happen in a DAG layering); go around
            tx = x2 + NODE_W / 2
        mid = (sx + tx) / 2
        parts.append(
            f'<path d="M {sx:.1f} {sy:.1f} C {mid:.1f} {sy:.1f}, {mid:.1f} {ty:.1f}, {tx:.1f} {ty:.1f}" '
            f'fill="none" stroke="#57606a" stroke-width="1.2" marker-end="url(#arrow)"/>'
        )
    hrefs = graph.hrefs()
    for key, node in graph.nodes.items():
        x, y = where[key]
        kind = "derived_case" if node.derived else node.kind
        label = adopted_in % {"city": node.label} if node.kind == "adoption" else node.label
        second = node.city if node.city and node.kind != "adoption" else names.get(kind, kind)
        name = f"{names.get(kind, kind)}: {label}" + (
            f" ({node.city})" if node.city and node.kind != "adoption" else ""
        )
        root = ' stroke-width="3"' if key == graph.root else ' stroke-width="1.5"'
        parts.append(
            f'<a href="{escape(hrefs[key] or "#")}" aria-label="{escape(name)}" class="lineage-node lineage-{kind}">'
            f"<title>{escape(name)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="#ffffff" '
            f'stroke="{COLOURS[kind]}"{root}/>'
            f"{shape(kind, x + 20, y + NODE_H / 2)}"
            f'<text x="{x + 38}" y="{y + 22}" font-size="13" fill="#1f2328">{escape(_cut(label))}</text>'
            f'<text x="{x + 38}" y="{y + 40}" font-size="12" fill="#57606a">{escape(_cut(second))}</text>'
            "</a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def markers(kinds: Sequence[str]) -> dict[str, str]:
    """A small SVG marker per kind, for the legend and the dated list."""
    return {
        kind: '<svg width="24" height="24" viewBox="0 0 24 24" aria-hidden="true" focusable="false">'
        f"{shape(kind, 12, 12, 9)}</svg>"
        for kind in kinds
    }


# --- charts ---------------------------------------------------------------------------------

PALETTE = ("#0b5cad", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#0a7480", "#bc4c00", "#57606a")


def bars(rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[str], title: str, *, width: int = 640) -> str:
    """Horizontal grouped bars: rows of (label, one value per series)."""
    label_w, bar_h, gap = 200, 14, 10
    group_h = bar_h * max(1, len(series)) + gap
    top = 8 + (22 if len(series) > 1 else 0)
    height = top + group_h * max(1, len(rows)) + 8
    most = max((v for _, values in rows for v in values), default=0) or 1
    span = width - label_w - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    if len(series) > 1:
        x = label_w
        for i, name in enumerate(series):
            parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
            parts.append(f'<text x="{x + 16}" y="16" font-size="12" fill="#1f2328">{escape(name)}</text>')
            x += 24 + 8 * len(name)
    for r, (label, values) in enumerate(rows):
        y = top + r * group_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + group_h / 2}" font-size="12" text-anchor="end" '
            f'dominant-baseline="middle" fill="#1f2328">{escape(_cut(label, 27))}</text>'
        )
        for i, value in enumerate(values):
            w = span * value / most
            by = y + i * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h / 2}" font-size="11" dominant-baseline="middle" '
                f'fill="#1f2328">{value}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Mapping[tuple[str, str], int],
    title: str,
    *,
    swatches: Mapping[str, tuple[str, str, str]] | None = None,
) -> str:
    """A grid: darker cells count more; each cell shows its number. swatches: row -> (colour,
    ink, text) for a coloured square before the row's label (an SDG's colour and number)."""
    cell, head_h = 34, 110
    swatch_w = 26 if swatches else 0
    limit = 48 if swatches else 24
    longest = max((len(_cut(name, limit)) for name in rows), default=0)
    # Room for the longest label at 12px (about 6.6px a character), at least the old 160.
    label_w = max(160, round(longest * 6.6) + 12 + swatch_w + (4 if swatches else 0))
    width, height = label_w + cell * max(1, len(columns)) + 8, head_h + cell * max(1, len(rows)) + 8
    most = max(values.values(), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for c, name in enumerate(columns):
        x = label_w + c * cell + cell / 2
        parts.append(
            f'<text x="{x}" y="{head_h - 6}" font-size="11" fill="#1f2328" '
            f'transform="rotate(-55 {x} {head_h - 6})">{escape(_cut(name, 18))}</text>'
        )
    for r, name in enumerate(rows):
        y = head_h + r * cell
        label = escape(_cut(name, limit))
        if swatches and name in swatches:
            # The swatch first (its number in black or white, whichever reads), then the name.
            colour, ink, text = swatches[name]
            parts.append(
                f'<rect x="4" y="{y + 5}" width="{swatch_w - 4}" height="{cell - 12}" rx="3" fill="{colour}"/>'
                f'<text x="{4 + (swatch_w - 4) / 2}" y="{y + (cell - 2) / 2}" font-size="11" font-weight="bold" '
                f'text-anchor="middle" dominant-baseline="middle" fill="{ink}">{escape(text)}</text>'
                f'<text x="{4 + swatch_w}" y="{y + (cell - 2) / 2}" font-size="12" dominant-baseline="middle" '
                f'fill="#1f2328">{label}</text>'
            )
        else:
            parts.append(
                f'<text x="{label_w - 6}" y="{y + cell / 2}" font-size="12" text-anchor="end" '
                f'dominant-baseline="middle" fill="#1f2328">{label}</text>'
            )
        for c, column in enumerate(columns):
            value = values.get((name, column), 0)
            share = value / most
            # From white to the primary blue; the number flips to white on dark cells.
            fill = _mix(share)
            ink = "#ffffff" if share > 0.55 else "#1f2328"
            x = label_w + c * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}" stroke="#d0d7de"/>'
            )
            if value:
                parts.append(
                    f'<text x="{x + (cell - 2) / 2}" y="{y + (cell - 2) / 2}" font-size="11" text-anchor="middle" '
                    f'dominant-baseline="middle" fill="{ink}">{value}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _mix(share: float) -> str:
    low, high = (255, 255, 255), (11, 92, 173)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
