"""Polls and scales: the console's forms and buttons, the participant's answer, and the JSON API.
Console actions answer 204: what they change reaches every view over the live stream."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs.errors import LabsError
from labs.runtime import Runtime
from labs.services import polls, sessions
from labs.web import auth
from labs.web.api import PollFields, _account, _participant_of
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.participant import _me
from labs.web.render import page

Req = Request[Any, Any, State]
guards = [auth.facilitator]


class PollIn(PollFields, kw_only=True):
    question: str
    title: str = ""
    minutes: int = 5


class AnswerIn(msgspec.Struct):
    client_id: str
    choices: list[int] = []
    number: float | None = None
    participant_id: int | None = None  # facilitators only: a proxy participant of the session


class PollActionIn(msgspec.Struct):
    action: str


# --- console and participant pages ---------------------------------------------------------


@post("/sessions/{session_id:int}/polls", guards=guards)
async def new_poll(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    session = await sessions.get_for(rt, session_id, _account(identity))
    data = await form_data(request)
    try:
        created = await polls.create(rt, _account(identity), session_id, data)
    except LabsError as e:
        return page(
            request,
            "polls/new.html",
            block="poll_form",
            status_code=e.status_code,
            session=session,
            poll_form=data,
            poll_errors=e.field_errors,
            messages=[("error", e.message)],
        )
    if request.headers.get("hx-request") != "true":
        return Redirect(f"/sessions/{session_id}/console#new-poll")
    return page(request, "polls/new.html", block="poll_form", session=session, poll_added=created["question"])


@post("/sessions/{session_id:int}/polls/{poll_id:int}/answers", guards=guards)
async def proxy_answer(request: Req, rt: Runtime, identity: Identity, session_id: int, poll_id: int) -> Response[None]:
    await polls.answer(rt, session_id, poll_id, await form_data(request), account=_account(identity))
    return Response(None, status_code=204)


@post("/sessions/{session_id:int}/polls/{poll_id:int}/{action:str}", guards=guards)
async def poll_action(rt: Runtime, identity: Identity, session_id: int, poll_id: int, action: str) -> Response[None]:
    await polls.set_status(rt, _account(identity), session_id, poll_id, action)
    return Response(None, status_code=204)


@post("/p/{session_id:int}/polls/{poll_id:int}")
async def answer(request: Req, rt: Runtime, session_id: int, poll_id: int) -> Response[Any]:
    me = await _me(request, rt, session_id)
    data = await form_data(request)
    # Without JavaScript the form has no client id: this post then stands on its own.
    data["client_id"] = data.get("client_id") or uuid.uuid4().hex
    await polls.answer(rt, session_id, poll_id, data, participant=me)
    if request.headers.get("hx-request") != "true":
        return Redirect(f"/p/{session_id}#my-poll")
    return page(
        request,
        "polls/mine.html",
        block="mine",
        poll=await polls.state(rt, session_id, me.id),
        session=await sessions.get(rt, session_id),
    )


# --- JSON API ------------------------------------------------------------------------------


@post(
    "/sessions/{session_id:int}/polls", guards=guards, status_code=201, summary="Add a poll, scale or number question"
)
async def api_create(rt: Runtime, identity: Identity, session_id: int, data: PollIn) -> dict[str, Any]:
    return await polls.create(rt, _account(identity), session_id, msgspec.to_builtins(data))


@get("/sessions/{session_id:int}/polls", summary="The session's polls (results once revealed; always for facilitators)")
async def api_list(rt: Runtime, identity: Identity, session_id: int) -> list[dict[str, Any]]:
    staff = await _caller(rt, identity, session_id)
    found = []
    for poll in await polls.list_polls(rt, session_id):
        found.append(await _shown(rt, session_id, poll["id"], staff))
    return found


@get(
    "/sessions/{session_id:int}/polls/{poll_id:int}",
    summary="One poll (results once revealed; always for facilitators)",
)
async def api_get(rt: Runtime, identity: Identity, session_id: int, poll_id: int) -> dict[str, Any]:
    return await _shown(rt, session_id, poll_id, await _caller(rt, identity, session_id))


@post(
    "/sessions/{session_id:int}/polls/{poll_id:int}/status",
    guards=guards,
    status_code=200,
    summary="open, close or reveal a poll",
)
async def api_status(
    rt: Runtime, identity: Identity, session_id: int, poll_id: int, data: PollActionIn
) -> dict[str, Any]:
    return await polls.set_status(rt, _account(identity), session_id, poll_id, data.action)


@post("/sessions/{session_id:int}/polls/{poll_id:int}/answers", summary="Answer a poll (idempotent by client_id)")
async def api_answer(
    rt: Runtime, identity: Identity, session_id: int, poll_id: int, data: AnswerIn
) -> Response[dict[str, Any]]:
    payload = msgspec.to_builtins(data)
    if identity.account:
        given, seq = await polls.answer(rt, session_id, poll_id, payload, account=identity.account)
    else:
        payload.pop("participant_id", None)
        me = _participant_of(identity, session_id)
        given, seq = await polls.answer(rt, session_id, poll_id, payload, participant=me)
    # The same client_id again: 200 with the answer as recorded, and nothing new written.
    return Response({**given, "seq": seq}, status_code=201 if seq is not None else 200)


async def _caller(rt: Runtime, identity: Identity, session_id: int) -> bool:
    """True for the session's facilitators; a participant of the session gets False; others 404."""
    if identity.account:
        await sessions.get_for(rt, session_id, identity.account)
        return True
    _participant_of(identity, session_id)
    return False


async def _shown(rt: Runtime, session_id: int, poll_id: int, staff: bool) -> dict[str, Any]:
    shown = await polls.results(rt, session_id, poll_id)
    if not staff and shown["status"] != "revealed":
        shown["results"] = None
    return shown


routes: list[Any] = [
    new_poll,
    proxy_answer,
    poll_action,
    answer,
    Router(path="/api/v1", route_handlers=[api_create, api_list, api_get, api_status, api_answer]),
]
