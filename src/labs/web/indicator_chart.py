"""An indicator's course as SVG, drawn on the server: the baseline as a dashed line, the target as
a marked point at its date, and the measurements joined from the baseline on. The page shows the
same numbers as a table next to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

from labs.services.indicators import Course

W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 300, 60, 20, 20, 50


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def draw(course: Course, words: Callable[[str], str]) -> str:
    """`words` translates the chart's few labels (Baseline, Target, Measured)."""
    ind = course.indicator
    points = [(ind.baseline_on, ind.baseline)] + [(m.measured_on, m.value) for m in course.measurements]
    days = [d for d, _ in points] + [ind.target_on]
    values = [v for _, v in points] + [ind.target]
    low = ind.range_min if ind.range_min is not None else min(values)
    high = ind.range_max if ind.range_max is not None else max(values)
    if high == low:
        high = low + 1
    margin = 0 if ind.range_min is not None and ind.range_max is not None else (high - low) * 0.1
    low, high = low - (margin if ind.range_min is None else 0), high + (margin if ind.range_max is None else 0)
    first, last = min(days), max(days)
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return LEFT + (W - LEFT - RIGHT) * (day - first).days / span

    def y(value: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (value - low) / (high - low))

    unit = escape(ind.unit)
    grid = "".join(
        f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid" stroke="#e5e7eb"/>'
        f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>'
        for t in _ticks(low, high)
    )
    course_line = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    dots = "".join(
        f'<circle cx="{x(m.measured_on):.1f}" cy="{y(m.value):.1f}" r="4" class="measured" fill="#1d4ed8">'
        f"<title>{m.measured_on.isoformat()}: {m.value:g} {unit}</title></circle>"
        for m in course.measurements
    )
    baseline, target = escape(words("Baseline")), escape(words("Target"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" class="indicator-chart" '
        # Presentation attributes, not a <style> element: the pages' CSP allows no inline styles.
        f'aria-label="{escape(ind.name)} ({unit})" font-family="system-ui, sans-serif" font-size="12" '
        'fill="#111827">'
        + grid
        + f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(ind.baseline):.1f}" y2="{y(ind.baseline):.1f}" '
        'class="baseline" stroke="#6b7280" stroke-dasharray="6 4"/>'
        f'<text x="{W - RIGHT}" y="{y(ind.baseline) - 6:.1f}" text-anchor="end">{baseline} {ind.baseline:g}</text>'
        f'<polyline points="{course_line}" class="course" fill="none" stroke="#1d4ed8" stroke-width="2.5"/>'
        + dots
        + f'<path d="M{x(ind.target_on):.1f} {y(ind.target) - 7:.1f}l7 7l-7 7l-7 -7z" class="target" fill="#b45309">'
        f"<title>{target}: {ind.target:g} {unit} ({ind.target_on.isoformat()})</title></path>"
        f'<text x="{x(ind.target_on) - 10:.1f}" y="{y(ind.target) - 10:.1f}" text-anchor="end">'
        f"{target} {ind.target:g}</text>"
        f'<text x="{LEFT}" y="{H - 20}">{first.isoformat()}</text>'
        f'<text x="{W - RIGHT}" y="{H - 20}" text-anchor="end">{last.isoformat()}</text>'
        f'<text x="{LEFT}" y="{H - 4}">{unit}</text>'
        "</svg>"
    )
