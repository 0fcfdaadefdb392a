"""Research pages: the overview of what an account may study, and who may study what (grants).

Every page here reads through `labs.services.grants`: one scope, one check, 404 for the rest."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect
from markupsafe import Markup

from labs import i18n, paging, validate
from labs.errors import LabsError
from labs.i18n import N_
from labs.models import Role
from labs.runtime import Runtime
from labs.services import analysis, grants, lineage, moderation_log, participants, replay, sessions
from labs.web import auth, research_svg
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.render import failed, page, request_lang

Req = Request[Any, Any, State]
# Research pages are for researchers and admins, and for facilitators about the sessions they run.
staff = auth.require(Role.researcher, Role.facilitator)


def _account(identity: Identity) -> Any:
    assert identity.account is not None
    return identity.account


@get("/research", guards=[staff])
async def research_home(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    """The sessions and communities this account may study."""
    overview = await analysis.overview(rt, _account(identity), request.query_params.get("page"))
    return page(request, "research/index.html", **overview)


# --- access ---------------------------------------------------------------------------------


async def _access_page(request: Req, rt: Runtime, identity: Identity, **extra: Any) -> Response[Any]:
    account = _account(identity)
    session_id = extra.pop("session_id", None)
    found = await grants.list_grants(rt, account, session_id=session_id, page=request.query_params.get("page"))
    sessions, communities = await grants.grantable(rt, account)
    return page(
        request,
        "research/access.html",
        grants=found,
        sessions=sessions,
        communities=communities,
        researchers=await grants.researchers(rt),
        session_id=session_id,
        form=extra.pop("form", {"target": f"session:{session_id}" if session_id else ""}),
        errors=extra.pop("errors", {}),
        **extra,
    )


def _target(value: Any) -> dict[str, Any]:
    """The form's one choice "session:3" / "community:1" as the service's keywords."""
    kind, _, number = str(value or "").partition(":")
    if kind == "session":
        return {"session_id": number}
    if kind == "community":
        return {"community_id": number}
    return {}


@get("/research/access", guards=[auth.facilitator])
async def access(request: Req, rt: Runtime, identity: Identity, session_id: int | None = None) -> Response[Any]:
    return await _access_page(request, rt, identity, session_id=session_id)


@post("/research/access", guards=[auth.facilitator])
async def access_grant(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    data = await form_data(request)
    try:
        row = await grants.grant(rt, _account(identity), data.get("email"), **_target(data.get("target")))
    except LabsError as e:
        return await _access_page(request, rt, identity, **failed(e, data))
    back = f"/research/access?session_id={row.session_id}" if data.get("back") == "session" else "/research/access"
    return Redirect(back)


@post("/research/access/{grant_id:int}/revoke", guards=[auth.facilitator])
async def access_revoke(request: Req, rt: Runtime, identity: Identity, grant_id: int) -> Response[Any]:
    data = await form_data(request)
    row = await grants.revoke(rt, _account(identity), grant_id)
    back = f"/research/access?session_id={row.session_id}" if data.get("back") == "session" else "/research/access"
    return Redirect(back)


# --- replay ---------------------------------------------------------------------------------


@get("/research/sessions/{session_id:int}/replay", guards=[staff])
async def replay_page(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    """The session as it stood at ?seq=N (the end when absent); htmx asks for the moment only."""
    moment = await replay.for_research(rt, identity.account, session_id, request.query_params.get("seq"))
    session = await sessions.get(rt, session_id)
    chosen = request.query_params.get("moments_page")
    if chosen in (None, ""):
        # The page of moments that holds the position shown.
        reached = sum(1 for m in moment.milestones if m["seq"] <= moment.seq)
        chosen = max(1, -(-reached // paging.PER_PAGE))
    milestones = paging.of(moment.milestones, chosen)
    return page(
        request,
        "research/replay.html",
        block="moment",
        session=session,
        moment=moment,
        milestones=milestones,
        notes=paging.of(moment.notes, _notes_page(request.query_params, moment)),
    )


def _notes_page(query: Any, moment: replay.Moment) -> Any:
    """?notes_page=, else the page that holds ?note= (a lineage node links to its note)."""
    if query.get("notes_page") not in (None, "") or query.get("note") in (None, ""):
        return query.get("notes_page")
    wanted = validate.integer(query.get("note"), "note")
    at = next((i for i, n in enumerate(moment.notes) if n["id"] == wanted), 0)
    return at // paging.PER_PAGE + 1


# --- moderation log -----------------------------------------------------------------------


@get("/research/moderation", guards=[staff])
async def moderation_page(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    """Who hid, restored, pinned or unpinned what, when: ?session_id= narrows to one session."""
    query = request.query_params
    found = await moderation_log.entries(
        rt, identity.account, session_id=query.get("session_id"), page=query.get("page")
    )
    session_id = moderation_log.session_id_of(query.get("session_id"))
    return page(
        request,
        "research/moderation.html",
        entries=found,
        session_id=session_id,
        sessions=await moderation_log.sessions_in_scope(rt, identity.account),
    )


# --- lineage --------------------------------------------------------------------------------

NODE_NAMES = {
    "case": N_("Case"),
    "derived_case": N_("Derived case"),
    "session": N_("Session"),
    "note": N_("Feedback note"),
    "cluster": N_("Cluster"),
    "outcome": N_("Outcome"),
    "follow_up": N_("Follow-up"),
    "adoption": N_("Adoption"),
}
TRACE_OF = {"cases": "case_id", "sessions": "session_id", "communities": "community_id"}


def _paths(tail: str) -> list[str]:
    # One path per kind: the router matches literal segments first and does not backtrack.
    return [f"/research/{kind}/{{item_id:int}}/{tail}" for kind in TRACE_OF]


async def _trace(request: Req, rt: Runtime, identity: Identity, item_id: int) -> tuple[str, lineage.Graph]:
    kind = request.url.path.split("/")[2]
    return kind, await lineage.trace(rt, identity.account, **{TRACE_OF[kind]: item_id})


def _base_url(request: Req, rt: Runtime) -> str:
    return rt.settings.public_url or str(request.base_url)


@get(_paths("lineage"), guards=[staff])
async def lineage_page(request: Req, rt: Runtime, identity: Identity, item_id: int) -> Response[Any]:
    kind, graph = await _trace(request, rt, identity, item_id)
    lang = request_lang(request, identity)
    names = {k: i18n.gettext(lang, v) for k, v in NODE_NAMES.items()}
    adopted_in = i18n.gettext(lang, "Adopted in %(city)s", city="%(city)s")
    title = i18n.gettext(lang, "Lineage of %(title)s", title=graph.title)
    present = {"derived_case" if n.derived else n.kind for n in graph.nodes.values()}
    kinds = [k for k in NODE_NAMES if k in present]
    return page(
        request,
        "research/lineage.html",
        graph=graph,
        # The picture shows the whole trace; the list beside it a page at a time.
        listed=paging.of(graph.dated(), request.query_params.get("page")),
        kind=kind,
        item_id=item_id,
        # research_svg escapes every piece of text it draws.
        svg=Markup(research_svg.lineage(graph, names, title, adopted_in)),  # noqa: S704
        markers={k: Markup(v) for k, v in research_svg.markers(kinds).items()},  # noqa: S704
        kinds=kinds,
        names=names,
    )


@get(_paths("lineage.graphml"), guards=[staff])
async def lineage_graphml(request: Req, rt: Runtime, identity: Identity, item_id: int) -> Response[bytes]:
    kind, graph = await _trace(request, rt, identity, item_id)
    return _download(
        lineage.graphml(graph, _base_url(request, rt)), "application/graphml+xml", f"lineage-{kind}-{item_id}.graphml"
    )


@get(_paths("lineage.prov.json"), guards=[staff])
async def lineage_prov(request: Req, rt: Runtime, identity: Identity, item_id: int) -> Response[bytes]:
    kind, graph = await _trace(request, rt, identity, item_id)
    body = lineage.prov_json(graph, _base_url(request, rt)).encode()
    return _download(body, "application/json", f"lineage-{kind}-{item_id}.prov.json")


def _download(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        content=body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- consent records ------------------------------------------------------------------------


@get("/participants/{participant_id:int}/consent", guards=[staff])
async def consent_records(request: Req, rt: Runtime, identity: Identity, participant_id: int) -> Response[Any]:
    await grants.gate(rt, identity.account, participant_id=participant_id)
    return page(request, "research/consent.html", records=await participants.consent_history(rt, participant_id))


routes = [
    research_home,
    access,
    access_grant,
    access_revoke,
    replay_page,
    moderation_page,
    lineage_page,
    lineage_graphml,
    lineage_prov,
    consent_records,
]
