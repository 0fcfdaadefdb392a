"""The 17 Sustainable Development Goals with their official short names (English; the Dutch names
are the catalog's translations, as the Dutch government and SDG Nederland use them) and the
official colours of the UN's communication guidelines."""

from __future__ import annotations

from dataclasses import dataclass

from labs.i18n import N_, gettext


@dataclass(frozen=True)
class Goal:
    number: int
    name: str  # catalog id: English; gettext gives the reader's language
    colour: str

    def label(self, lang: str) -> str:
        return gettext(lang, self.name)

    @property
    def ink(self) -> str:
        """Black or white, whichever reads better on the goal's colour (WCAG contrast)."""
        lum = _luminance(self.colour)
        return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


GOALS: dict[int, Goal] = {
    g.number: g
    for g in (
        Goal(1, N_("No poverty"), "#E5243B"),
        Goal(2, N_("Zero hunger"), "#DDA63A"),
        Goal(3, N_("Good health and well-being"), "#4C9F38"),
        Goal(4, N_("Quality education"), "#C5192D"),
        Goal(5, N_("Gender equality"), "#FF3A21"),
        Goal(6, N_("Clean water and sanitation"), "#26BDE2"),
        Goal(7, N_("Affordable and clean energy"), "#FCC30B"),
        Goal(8, N_("Decent work and economic growth"), "#A21942"),
        Goal(9, N_("Industry, innovation and infrastructure"), "#FD6925"),
        Goal(10, N_("Reduced inequalities"), "#DD1367"),
        Goal(11, N_("Sustainable cities and communities"), "#FD9D24"),
        Goal(12, N_("Responsible consumption and production"), "#BF8B2E"),
        Goal(13, N_("Climate action"), "#3F7E44"),
        Goal(14, N_("Life below water"), "#0A97D9"),
        Goal(15, N_("Life on land"), "#56C02B"),
        Goal(16, N_("Peace, justice and strong institutions"), "#00689D"),
        Goal(17, N_("Partnerships for the goals"), "#19486A"),
    )
}
