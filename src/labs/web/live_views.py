"""The facilitator's console and the projector, and the console's actions. Actions answer 204:
what they change reaches every view (this one included) over the live stream."""

from __future__ import annotations

import io
from typing import Any

import segno
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs.errors import Invalid
from labs.runtime import Runtime
from labs.services import cases, notes, participants, sessions, votes
from labs.web import auth, fragments
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.fragments import CONSOLE, PROJECTOR, state
from labs.web.render import page

Req = Request[Any, Any, State]
guards = [auth.facilitator]


def join_url(request: Req, rt: Runtime, code: str) -> str:
    base = rt.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/j/{code}"


async def _view(
    request: Req,
    rt: Runtime,
    identity: Identity,
    session_id: int,
    audience: str,
    template: str,
    only: notes.WallFilter | None = None,
    people_page: Any = 1,
    queue_page: Any = 1,
) -> Response[Any]:
    assert identity.account
    session = await sessions.get_for(rt, session_id, identity.account)
    ctx = await state(rt, session.id, only=only, people_page=people_page, queue_page=queue_page)
    url = join_url(request, rt, session.join_code)
    return page(
        request,
        template,
        seq=ctx["session"].last_seq,
        join_url=url,
        joinable=sessions.joinable(session),
        join_host=url.split("://", 1)[-1].rsplit("/j/", 1)[0],
        proxies=[p for p in await participants.in_session(rt, session_id) if p.proxy] if audience == CONSOLE else [],
        # The newest cases of the library to pick from (its search is on the library page).
        all_cases=(await cases.list_cases(rt, per_page=cases.MAX_PER_PAGE)).items if audience == CONSOLE else [],
        **ctx,
    )


@get("/sessions/{session_id:int}/console", guards=guards)
async def console(
    request: Req,
    rt: Runtime,
    identity: Identity,
    session_id: int,
    kind: str | None = None,
    cluster: str | None = None,
    hidden: str | None = None,
    people: str | None = None,
    queue: str | None = None,
) -> Response[Any]:
    only = notes.WallFilter.parse(kind, cluster, hidden)
    return await _view(request, rt, identity, session_id, CONSOLE, "live/console.html", only, people, queue)


@get("/sessions/{session_id:int}/notes/older", guards=guards)
async def older_notes(
    request: Req,
    rt: Runtime,
    identity: Identity,
    session_id: int,
    before: int,
    kind: str | None = None,
    cluster: str | None = None,
    hidden: str | None = None,
) -> Response[Any]:
    assert identity.account
    await sessions.get_for(rt, session_id, identity.account)
    only = notes.WallFilter.parse(kind, cluster, hidden)
    ctx = await fragments.older(rt, session_id, CONSOLE, before, only)
    return page(request, "live/older.html", block="older", **ctx)


@get("/sessions/{session_id:int}/projector", guards=guards)
async def projector(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    return await _view(request, rt, identity, session_id, PROJECTOR, "live/projector.html")


@get("/sessions/{session_id:int}/qr.svg", guards=guards, cache=False)
async def qr(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[bytes]:
    assert identity.account
    session = await sessions.get_for(rt, session_id, identity.account)
    out = io.BytesIO()
    segno.make(join_url(request, rt, session.join_code), error="m").save(out, kind="svg", scale=8, border=2)
    return Response(out.getvalue(), media_type="image/svg+xml")


def done() -> Response[None]:
    return Response(None, status_code=204)


@post("/sessions/{session_id:int}/start", guards=guards)
async def start(rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    await sessions.start(rt, identity.account, session_id)
    return Response(None, status_code=204, headers={"HX-Refresh": "true"})


@post("/sessions/{session_id:int}/joining", guards=guards)
async def joining(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    await sessions.set_joining(rt, identity.account, session_id, (await form_data(request)).get("joining"))
    return Response(None, status_code=204, headers={"HX-Refresh": "true"})


@post("/sessions/{session_id:int}/premoderation", guards=guards)
async def premoderation(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    value = (await form_data(request)).get("premoderation")
    await sessions.set_premoderation(rt, identity.account, session_id, value)
    return Response(None, status_code=204, headers={"HX-Refresh": "true"})


@post("/sessions/{session_id:int}/close", guards=guards)
async def close(rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    await sessions.close(rt, identity.account, session_id)
    return done()


@post("/sessions/{session_id:int}/next", guards=guards)
async def next_activity(rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    await sessions.activate_next(rt, identity.account, session_id)
    return done()


@post("/sessions/{session_id:int}/activities/{activity_id:int}/activate", guards=guards)
async def activate(rt: Runtime, identity: Identity, session_id: int, activity_id: int) -> Response[None]:
    assert identity.account
    await sessions.activate(rt, identity.account, session_id, activity_id)
    return done()


@post("/sessions/{session_id:int}/timer", guards=guards)
async def timer(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    data = await form_data(request)
    action = str(data.get("action") or "start")
    seconds = None
    if action == "start":
        try:
            seconds = int(float(data.get("minutes") or 0) * 60)
        except ValueError:
            raise Invalid("Give the timer a number of minutes.", {"minutes": "A number."})
    await sessions.set_timer(rt, identity.account, session_id, action, seconds)
    return done()


@post("/sessions/{session_id:int}/notes/{note_id:int}/{action:str}", guards=guards)
async def moderate(
    request: Req, rt: Runtime, identity: Identity, session_id: int, note_id: int, action: str
) -> Response[None]:
    assert identity.account
    if action == "cluster":
        await notes.cluster_note(rt, identity.account, session_id, note_id, (await form_data(request)).get("name", ""))
    elif action in notes.REVIEW:
        await notes.review(rt, identity.account, session_id, note_id, action)
    else:
        await notes.moderate(rt, identity.account, session_id, note_id, action)
    return done()


@post("/sessions/{session_id:int}/notes", guards=guards)
async def proxy_note(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    await notes.post(rt, session_id, await form_data(request), account=identity.account)
    return done()


@post("/sessions/{session_id:int}/cases", guards=guards)
async def share_case(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[None]:
    assert identity.account
    data = await form_data(request)
    await cases.share_case(rt, identity.account, session_id, data.get("case_id", 0), data.get("presenter"))
    return done()


@post("/sessions/{session_id:int}/proxies", guards=guards)
async def add_proxy(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    assert identity.account
    await participants.add_proxy(rt, identity.account, session_id, await form_data(request))
    return Redirect(f"/sessions/{session_id}/console#proxy-title")


@post("/sessions/{session_id:int}/participants/{participant_id:int}/remove", guards=guards)
async def remove_participant(
    request: Req, rt: Runtime, identity: Identity, session_id: int, participant_id: int
) -> Response[None]:
    assert identity.account
    data = await form_data(request)
    await participants.remove(rt, identity.account, session_id, participant_id, data.get("notes"))
    return done()


@post("/sessions/{session_id:int}/votes/{action:str}", guards=guards)
async def voting(request: Req, rt: Runtime, identity: Identity, session_id: int, action: str) -> Response[None]:
    assert identity.account
    if action == "open":
        await votes.open_round(rt, identity.account, session_id, (await form_data(request)).get("votes", 3))
    elif action in ("close", "reveal"):
        await votes.close_round(rt, identity.account, session_id, reveal=action == "reveal")
    else:
        raise Invalid(f"Unknown voting action {action!r}; allowed: open, close, reveal.")
    return done()


routes = [
    console,
    older_notes,
    projector,
    qr,
    start,
    close,
    joining,
    premoderation,
    next_activity,
    activate,
    timer,
    moderate,
    proxy_note,
    share_case,
    add_proxy,
    remove_participant,
    voting,
]
