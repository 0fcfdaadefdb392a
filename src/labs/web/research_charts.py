"""The charts page: every chart drawn on the server (research_svg), with its data table and a CSV
of the same numbers; filters by community, period and city. Counts come from
labs.services.analysis, limited to the account's scope and to what consent allows."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.datastructures import State
from markupsafe import Markup

from labs import i18n, paging
from labs.errors import LabsError
from labs.i18n import N_
from labs.runtime import Runtime
from labs.sdgs import GOALS
from labs.services import analysis
from labs.services.analysis import Table
from labs.web import research_svg
from labs.web.auth import Identity
from labs.web.render import failed, page, request_lang
from labs.web.research import staff

Req = Request[Any, Any, State]

TITLES = {
    "sdg_topics": N_("SDGs and topics across cases"),
    "notes_by_activity": N_("Notes by kind per activity"),
    "boosters_barriers_by_case": N_("Boosters and barriers per case"),
    "boosters_barriers_by_topic": N_("Boosters and barriers per topic"),
    "participation": N_("Participation by city and sector"),
    "outcome_funnel": N_("Outcome funnel"),
    "time_to_adoption": N_("Days from session to adoption"),
    "returning_members": N_("Members returning across sessions"),
}
DESCRIPTIONS = {
    "sdg_topics": N_("How many cases carry each SDG together with each topic."),
    "notes_by_activity": N_(
        "Notes on the wall per activity, by kind. Hidden notes and notes of participants who chose no "
        "research use are not counted."
    ),
    "boosters_barriers_by_case": N_("Booster and barrier notes written about each case."),
    "boosters_barriers_by_topic": N_("Booster and barrier notes about cases, summed per topic of the case."),
    "participation": N_("Participants per city and sector; participants who chose no research use are not counted."),
    "outcome_funnel": N_(
        "Outcomes recorded, those a check-in reported in progress, and those adopted, adapted or scaled "
        "(or turned into a derived case)."
    ),
    "time_to_adoption": N_("For each adopted outcome: days between its session and the adoption."),
    "returning_members": N_(
        "Per session of a community: members who came for the first time and members who had come before."
    ),
}
HEADERS = {
    "sdg": N_("SDG"),
    "sdg_name": N_("Goal"),
    "topic": N_("Topic"),
    "cases": N_("Cases"),
    "session": N_("Session"),
    "activity": N_("Activity"),
    "case": N_("Case"),
    "city": N_("City"),
    "boosters": N_("Boosters"),
    "barriers": N_("Barriers"),
    "sector": N_("Sector"),
    "participants": N_("Participants"),
    "stage": N_("Stage"),
    "outcomes": N_("Outcomes"),
    "outcome": N_("Outcome"),
    "session_on": N_("Session date"),
    "adopted_on": N_("Adopted on"),
    "days": N_("Days"),
    "new": N_("New"),
    "returning": N_("Returning"),
    "idea": N_("Idea"),
    "insight": N_("Insight"),
    "question": N_("Question"),
    "booster": N_("Booster"),
    "barrier": N_("Barrier"),
    "action": N_("Action"),
}
VALUES = {
    "recorded": N_("Recorded"),
    "in_progress": N_("In progress"),
    "adopted": N_("Adopted, adapted or scaled"),
    "citizen": N_("Citizen"),
    "government": N_("Government"),
    "business": N_("Business"),
    "knowledge_institution": N_("Knowledge institution"),
    "civil_society": N_("Civil society"),
    "": N_("Not given"),
}


def _word(lang: str, value: Any) -> str:
    return i18n.gettext(lang, VALUES[value]) if isinstance(value, str) and value in VALUES else str(value)


def draw(table: Table, lang: str) -> str:
    """The SVG of one chart, in `lang`."""
    title = i18n.gettext(lang, TITLES[table.key])
    header = {c: i18n.gettext(lang, HEADERS[c]) for c in table.columns}
    if table.key == "sdg_topics":
        goals = [GOALS[n] for n in sorted({r[0] for r in table.rows})]
        name = {g.number: g.label(lang) for g in goals}
        topics = sorted({r[2] for r in table.rows})
        cells = {(name[sdg], topic): n for sdg, _, topic, n in table.rows}
        swatches = {name[g.number]: (g.colour, g.ink, str(g.number)) for g in goals}
        return research_svg.heatmap([name[g.number] for g in goals], topics, cells, title, swatches=swatches)
    if table.key == "notes_by_activity":
        labels = [f"{s} · {a}" if a else s for s, a, *_ in table.rows]
        kinds = [header[k] for k in table.columns[2:]]
        values = {
            (label, kinds[i]): n
            for label, (_, _, *counts) in zip(labels, table.rows, strict=True)
            for i, n in enumerate(counts)
        }
        return research_svg.heatmap(labels, kinds, values, title)
    if table.key == "participation":
        cities = list(dict.fromkeys(_word(lang, r[0]) for r in table.rows))
        sectors = list(dict.fromkeys(_word(lang, r[1]) for r in table.rows))
        return research_svg.heatmap(
            cities, sectors, {(_word(lang, c), _word(lang, s)): n for c, s, n in table.rows}, title
        )
    # The others are bars: a label and one or two numbers per row.
    numbers = [c for c in table.columns if c in ("boosters", "barriers", "outcomes", "days", "new", "returning")]
    rows = [(_word(lang, r[0]), [r[table.columns.index(c)] for c in numbers]) for r in table.rows]
    return research_svg.bars(rows, [header[c] for c in numbers], title)


@get("/research/charts", guards=[staff])
async def charts_page(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    assert identity.account is not None
    lang = request_lang(request, identity)
    query = request.query_params
    try:
        f = analysis.filters(query)
        # Each data table pages on its own (?<chart>_page=); the picture shows every row.
        for key in analysis.CHARTS:
            paging.numbers(query.get(f"{key}_page"))
    except LabsError as e:
        # A bad filter: the form again with the message next to the field, and no charts.
        extra, f, charts = failed(e), analysis.Filters(), []
    else:
        extra = {"errors": {}}
        tables = await analysis.chart_tables(rt, identity.account, f)
        # research_svg escapes every piece of text it draws.
        charts = [
            (t, Markup(draw(t, lang)), paging.of(t.rows, query.get(f"{t.key}_page")), _base(query, t.key))  # noqa: S704
            for t in tables
        ]
    return page(
        request,
        "research/charts.html",
        **extra,
        charts=charts,
        filters=f,
        choices=await analysis.filter_choices(rt, identity.account),
        titles=TITLES,
        descriptions=DESCRIPTIONS,
        column_names=HEADERS,
        values=VALUES,
    )


def _base(query: Any, key: str) -> str:
    """The page's address with its filters and the other tables' pages, for one table's pager."""
    kept = [(k, v) for k, v in query.multi_items() if k != f"{key}_page" and v not in ("", None)]
    return "/research/charts" + (f"?{urlencode(kept)}" if kept else "")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    # A spreadsheet would run text that starts like a formula: an apostrophe keeps it text.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@get("/research/charts/{chart:str}/data.csv", guards=[staff])
async def chart_csv(request: Req, rt: Runtime, identity: Identity, chart: str) -> Response[bytes]:
    assert identity.account is not None
    (table,) = await analysis.chart_tables(rt, identity.account, analysis.filters(request.query_params), only=chart)
    out = io.StringIO()
    writer = csv.writer(out)
    lang = request_lang(request, identity)
    named = table.columns.index("sdg_name") if "sdg_name" in table.columns else None
    writer.writerow(table.columns)
    for row in table.rows:
        values = [i18n.gettext(lang, v) if i == named else v for i, v in enumerate(row)]
        writer.writerow([_cell(v) for v in values])
    return Response(
        content=out.getvalue().encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{chart}.csv"'},
    )


routes = [charts_page, chart_csv]
