"""Living-lab pages: the list of labs, a lab's Theory of Change (editor, picture, history) and its
indicators (chart, data table, measurements by hand, from CSV or from a live poll). Forms post and
redirect; a form that fails is shown again with its values and the message next to the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.response import Redirect

from labs import i18n, paging
from labs.errors import Invalid, LabsError
from labs.models import Role
from labs.runtime import Runtime
from labs.services import compare, experiments, followups, indicators, toc
from labs.web import auth, indicator_chart, toc_picture
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.record import base_url
from labs.web.render import failed, page, request_lang

Req = Request[Any, Any, State]
staff = [auth.require(Role.facilitator, Role.researcher)]
editors = [auth.facilitator]


def _account(identity: Identity) -> Any:
    assert identity.account
    return identity.account


def _words(request: Req, identity: Identity) -> Callable[[str], str]:
    lang = request_lang(request, identity)
    return lambda text: i18n.gettext(lang, text)


async def _submit(
    change: Callable[[], Awaitable[str]], again: Callable[[LabsError], Awaitable[Response[Any]]]
) -> Response[Any]:
    """Run a form's change and go where it says; a form that fails is shown again by `again`, with
    its values and field errors. A bare 404 (no such lab, or not one the caller runs) stays a 404."""
    try:
        target = await change()
    except LabsError as e:
        if e.status_code == 404 and not e.field_errors:
            raise
        return await again(e)
    return Redirect(target)


KIND_WORDS = {
    "activity": "Activities",
    "output": "Outputs",
    "short_term": "Short-term outcomes",
    "medium_term": "Medium-term outcomes",
    "long_term": "Long-term outcomes",
    "impact": "Impact",
    "actor": "Actors",
    "booster": "Boosters",
    "barrier": "Barriers",
    "assumption": "Assumptions",
}


# --- the list of labs ----------------------------------------------------------------------


@get("/livinglabs", guards=staff)
async def lab_list(request: Req, rt: Runtime) -> Response[Any]:
    found = await toc.labs(rt)
    return page(request, "livinglab/list.html", labs=paging.of(found, request.query_params.get("page")))


@get("/livinglabs/compare", guards=staff)
async def comparison(request: Req, rt: Runtime, topic: str | None = None, sdg: str | None = None) -> Response[Any]:
    goal = int(sdg) if sdg and sdg.isdigit() else None
    found = await compare.compare(rt, topic or None, goal)
    return page(request, "livinglab/compare.html", c=found, topic=topic or "", sdg=goal)


@get("/livinglabs/compare/results.json", guards=staff)
async def results_json(rt: Runtime) -> Response[Any]:
    return Response(
        {"results": await compare.iati(rt)},
        headers={"content-disposition": 'attachment; filename="living-lab-results.json"'},
    )


@get("/livinglabs/compare/results.csv", guards=staff)
async def results_csv(rt: Runtime) -> Response[str]:
    return Response(
        compare.iati_csv(await compare.iati(rt)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="living-lab-results.csv"'},
    )


# --- Theory of Change ----------------------------------------------------------------------


async def _toc_page(request: Req, rt: Runtime, identity: Identity, lab_id: int, **extra: Any) -> Response[Any]:
    theory = await toc.theory(rt, lab_id)
    picture = toc_picture.draw(theory, lambda k: _words(request, identity)(KIND_WORDS[k]), theory.lab.name)
    return page(
        request,
        "livinglab/toc.html",
        lab=theory.lab,
        theory=theory,
        picture=picture,
        outcomes=await toc.attachable_outcomes(rt, lab_id),
        chain_kinds=[k.value for k in toc.CHAIN],
        around_kinds=[k.value for k in toc.AROUND],
        tab="toc",
        **{"form": {}, "errors": {}, "failed_form": None, **extra},
    )


@get("/livinglabs/{lab_id:int}", guards=staff)
async def toc_view(request: Req, rt: Runtime, identity: Identity, lab_id: int) -> Response[Any]:
    return await _toc_page(request, rt, identity, lab_id)


@get("/livinglabs/{lab_id:int}/toc.svg", guards=staff, cache=False)
async def toc_svg(request: Req, rt: Runtime, identity: Identity, lab_id: int) -> Response[str]:
    theory = await toc.theory(rt, lab_id)
    svg = toc_picture.draw(theory, lambda k: _words(request, identity)(KIND_WORDS[k]), theory.lab.name)
    return Response(svg, media_type="image/svg+xml")


async def _toc_change(
    request: Req,
    rt: Runtime,
    identity: Identity,
    lab_id: int,
    name: str,
    change: Callable[[dict[str, Any]], Awaitable[Any]],
) -> Response[Any]:
    """One change from a ToC form; on failure the page again, with that form's errors."""
    data = await form_data(request)

    async def run() -> str:
        await change(data)
        return f"/livinglabs/{lab_id}#{name}"

    async def again(e: LabsError) -> Response[Any]:
        return await _toc_page(request, rt, identity, lab_id, failed_form=name, **failed(e, data))

    return await _submit(run, again)


@post("/livinglabs/{lab_id:int}/toc/nodes", guards=editors)
async def add_node(request: Req, rt: Runtime, identity: Identity, lab_id: int) -> Response[Any]:
    async def change(data: dict[str, Any]) -> Any:
        return await toc.add_node(rt, _account(identity), lab_id, data)

    return await _toc_change(request, rt, identity, lab_id, "new-node", change)


@post("/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}", guards=editors)
async def edit_node(request: Req, rt: Runtime, identity: Identity, lab_id: int, node_id: int) -> Response[Any]:
    async def change(data: dict[str, Any]) -> Any:
        return await toc.update_node(rt, _account(identity), lab_id, node_id, data)

    return await _toc_change(request, rt, identity, lab_id, f"node-{node_id}", change)


@post("/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/delete", guards=editors)
async def delete_node(request: Req, rt: Runtime, identity: Identity, lab_id: int, node_id: int) -> Response[Any]:
    async def change(_data: dict[str, Any]) -> Any:
        return await toc.remove_node(rt, _account(identity), lab_id, node_id)

    return await _toc_change(request, rt, identity, lab_id, f"node-{node_id}", change)


@post("/livinglabs/{lab_id:int}/toc/links", guards=editors)
async def add_link(request: Req, rt: Runtime, identity: Identity, lab_id: int) -> Response[Any]:
    async def change(data: dict[str, Any]) -> Any:
        return await toc.add_link(rt, _account(identity), lab_id, data)

    return await _toc_change(request, rt, identity, lab_id, "new-link", change)


@post("/livinglabs/{lab_id:int}/toc/links/{link_id:int}/delete", guards=editors)
async def delete_link(request: Req, rt: Runtime, identity: Identity, lab_id: int, link_id: int) -> Response[Any]:
    async def change(_data: dict[str, Any]) -> Any:
        return await toc.remove_link(rt, _account(identity), lab_id, link_id)

    return await _toc_change(request, rt, identity, lab_id, "links", change)


@post("/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/outcomes", guards=editors)
async def attach(request: Req, rt: Runtime, identity: Identity, lab_id: int, node_id: int) -> Response[Any]:
    async def change(data: dict[str, Any]) -> Any:
        return await toc.attach_outcome(rt, _account(identity), lab_id, node_id, data.get("outcome_id"))

    return await _toc_change(request, rt, identity, lab_id, f"node-{node_id}", change)


@post("/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/outcomes/{outcome_id:int}/delete", guards=editors)
async def detach(
    request: Req, rt: Runtime, identity: Identity, lab_id: int, node_id: int, outcome_id: int
) -> Response[Any]:
    async def change(_data: dict[str, Any]) -> Any:
        return await toc.detach_outcome(rt, _account(identity), lab_id, node_id, outcome_id)

    return await _toc_change(request, rt, identity, lab_id, f"node-{node_id}", change)


@get("/livinglabs/{lab_id:int}/history", guards=staff)
async def history(request: Req, rt: Runtime, lab_id: int) -> Response[Any]:
    lab, log = await toc.history(rt, lab_id)
    return page(
        request, "livinglab/history.html", lab=lab, log=paging.of(log, request.query_params.get("page")), tab="history"
    )


# --- a lab's indicators and experiments: a list with its form for a new one ---------------


async def _indicators(rt: Runtime, theory: toc.Theory, number: Any) -> dict[str, Any]:
    return {
        "courses": await indicators.courses(rt, theory.lab.id),
        "measurable": [n for n in theory.nodes if n.kind in toc.MEASURABLE],
    }


async def _experiments(rt: Runtime, theory: toc.Theory, number: Any) -> dict[str, Any]:
    return {"logs": paging.of(await experiments.logs(rt, theory.lab.id), number), "links": _links(theory)}


async def _new_indicator(rt: Runtime, account: Any, lab_id: int, data: dict[str, Any]) -> str:
    made = await indicators.define(rt, account, lab_id, data.get("node_id"), data)
    return f"/livinglabs/{lab_id}/indicators/{made.id}"


async def _new_experiment(rt: Runtime, account: Any, lab_id: int, data: dict[str, Any]) -> str:
    made = await experiments.plan(rt, account, lab_id, data)
    return f"/livinglabs/{lab_id}/experiments/{made.id}"


Context = Callable[[Runtime, toc.Theory, Any], Awaitable[dict[str, Any]]]
Make = Callable[[Runtime, Any, int, dict[str, Any]], Awaitable[str]]


def _area(area: str, context: Context, make: Make) -> list[Any]:
    """The list page of a lab's `area` (template livinglab/<area>.html with `context`) and the post
    of its form, which `make`s one and goes to it (or shows the page again with the errors)."""

    async def area_page(request: Req, rt: Runtime, lab_id: int, **extra: Any) -> Response[Any]:
        theory = await toc.theory(rt, lab_id)
        found = await context(rt, theory, request.query_params.get("page"))
        defaults: dict[str, Any] = {"form": {}, "errors": {}}
        return page(request, f"livinglab/{area}.html", lab=theory.lab, tab=area, **found, **{**defaults, **extra})

    async def listing(request: Req, rt: Runtime, lab_id: int) -> Response[Any]:
        return await area_page(request, rt, lab_id)

    async def create(request: Req, rt: Runtime, identity: Identity, lab_id: int) -> Response[Any]:
        data = await form_data(request)
        return await _submit(
            lambda: make(rt, _account(identity), lab_id, data),
            lambda e: area_page(request, rt, lab_id, **failed(e, data)),
        )

    path = f"/livinglabs/{{lab_id:int}}/{area}"
    return [
        get(path, guards=staff, name=f"{area}-list")(listing),
        post(path, guards=editors, name=f"{area}-new")(create),
    ]


# --- indicators ----------------------------------------------------------------------------


async def _indicator_page(
    request: Req, rt: Runtime, identity: Identity, lab_id: int, indicator_id: int, **extra: Any
) -> Response[Any]:
    course = await indicators.course(rt, lab_id, indicator_id)
    theory = await toc.theory(rt, lab_id)
    return page(
        request,
        "livinglab/indicator.html",
        lab=theory.lab,
        course=course,
        chart=indicator_chart.draw(course, _words(request, identity)),
        table=paging.of(list(reversed(course.measurements)), request.query_params.get("page")),
        polls=await indicators.usable_polls(rt, lab_id),
        tab="indicators",
        **{"form": {}, "errors": {}, "failed_form": None, **extra},
    )


@get("/livinglabs/{lab_id:int}/indicators/{indicator_id:int}", guards=staff)
async def indicator_view(
    request: Req, rt: Runtime, identity: Identity, lab_id: int, indicator_id: int
) -> Response[Any]:
    return await _indicator_page(request, rt, identity, lab_id, indicator_id)


@post("/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/{action:str}", guards=editors)
async def indicator_action(
    request: Req, rt: Runtime, identity: Identity, lab_id: int, indicator_id: int, action: str
) -> Response[Any]:
    """measurements (by hand), import (a CSV file), from-poll, edit (the definition)."""
    data = await form_data(request)
    account = _account(identity)

    async def run() -> str:
        if action == "measurements":
            await indicators.record(rt, account, lab_id, indicator_id, data)
        elif action == "import":
            upload = data.pop("file", None)
            if not isinstance(upload, UploadFile):
                raise Invalid("Choose a CSV file.", {"file": "Choose a CSV file."})
            await indicators.import_csv(rt, account, lab_id, indicator_id, await upload.read())
        elif action == "from-poll":
            await indicators.from_poll(rt, account, lab_id, indicator_id, data)
        elif action == "edit":
            await indicators.update(rt, account, lab_id, indicator_id, data)
        else:
            raise Invalid("Unknown action %(action)r.", action=action)
        return f"/livinglabs/{lab_id}/indicators/{indicator_id}#{action}"

    async def again(e: LabsError) -> Response[Any]:
        return await _indicator_page(request, rt, identity, lab_id, indicator_id, failed_form=action, **failed(e, data))

    return await _submit(run, again)


# --- experiments ---------------------------------------------------------------------------


def _links(theory: toc.Theory) -> list[tuple[int, str]]:
    """The lab's "leads to" links as (id, "from → to") for the hypothesis form."""
    return [
        (link.id, f"{theory.node(link.from_id).title} → {theory.node(link.to_id).title}")  # type: ignore[union-attr]
        for link in theory.links
    ]


async def _experiment_page(request: Req, rt: Runtime, lab_id: int, experiment_id: int, **extra: Any) -> Response[Any]:
    theory = await toc.theory(rt, lab_id)
    log = await experiments.get_log(rt, lab_id, experiment_id)
    return page(
        request,
        "livinglab/experiment.html",
        lab=theory.lab,
        log=log,
        private_links={a.check_in.id: followups.link(rt, base_url(request), a.check_in) for a in log.actions},
        links=_links(theory),
        sessions=await experiments.lab_sessions(rt, lab_id),
        tab="experiments",
        **{"form": {}, "errors": {}, "failed_form": None, **extra},
    )


@get("/livinglabs/{lab_id:int}/experiments/{experiment_id:int}", guards=staff)
async def experiment_view(request: Req, rt: Runtime, lab_id: int, experiment_id: int) -> Response[Any]:
    return await _experiment_page(request, rt, lab_id, experiment_id)


@post("/livinglabs/{lab_id:int}/experiments/{experiment_id:int}/{action:str}", guards=editors)
async def experiment_action(
    request: Req, rt: Runtime, identity: Identity, lab_id: int, experiment_id: int, action: str
) -> Response[Any]:
    """edit (plan and status), actions, sessions, evaluation, case."""
    data = await form_data(request)
    account = _account(identity)

    async def run() -> str:
        if action == "edit":
            await experiments.update(rt, account, lab_id, experiment_id, data)
        elif action == "actions":
            await experiments.add_action(rt, account, lab_id, experiment_id, data)
        elif action == "sessions":
            await experiments.link_session(rt, account, lab_id, experiment_id, data.get("session_id"))
        elif action == "evaluation":
            await experiments.evaluate(rt, account, lab_id, experiment_id, data)
        elif action == "case":
            case = await experiments.to_case(rt, account, lab_id, experiment_id, data)
            return f"/cases#case-{case.id}"
        else:
            raise Invalid("Unknown action %(action)r.", action=action)
        return f"/livinglabs/{lab_id}/experiments/{experiment_id}#{action}"

    async def again(e: LabsError) -> Response[Any]:
        return await _experiment_page(request, rt, lab_id, experiment_id, failed_form=action, **failed(e, data))

    return await _submit(run, again)


routes: list[Any] = [
    lab_list,
    comparison,
    results_json,
    results_csv,
    toc_view,
    toc_svg,
    add_node,
    edit_node,
    delete_node,
    add_link,
    delete_link,
    attach,
    detach,
    history,
    *_area("indicators", _indicators, _new_indicator),
    indicator_view,
    indicator_action,
    *_area("experiments", _experiments, _new_experiment),
    experiment_view,
    experiment_action,
]
