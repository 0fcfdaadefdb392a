"""Participants: join by code or QR without an account, their own page, notes, votes, consent.
A cookie per session (HttpOnly) holds the participant's token, so a reload or a later visit from
the same device resumes the same identity."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs.errors import Forbidden, LabsError, NotFound
from labs.i18n import N_
from labs.models import Participant, SessionStatus
from labs.runtime import Runtime
from labs.services import members, notes, participants, polls, privacy, sessions, votes
from labs.services.sessions import normalise_code
from labs.web import auth, fragments
from labs.web.auth import identify, participant_cookie
from labs.web.forms import form_data
from labs.web.fragments import PARTICIPANT, state
from labs.web.render import failed, page

Req = Request[Any, Any, State]
COOKIE_DAYS = 30


async def current_participant(request: Req, session_id: int) -> Participant | None:
    return (await identify(request, session_id)).participant


async def _me(request: Req, rt: Runtime, session_id: int) -> Participant:
    participant = await current_participant(request, session_id)
    if participant is None:
        if await _was_removed(request, rt, session_id):
            raise Forbidden(participants.REMOVED)
        raise NotFound("Join the session first: open its link or enter its code.")
    return participant


async def _was_removed(request: Req, rt: Runtime, session_id: int) -> bool:
    """This device's cookie for the session is that of a participant a facilitator removed."""
    return await participants.removed_by_token(rt, request.cookies.get(participant_cookie(session_id)), session_id)


def _removed_page(request: Req, title: str | None = None) -> Response[Any]:
    return page(request, "live/removed.html", status_code=403, title=title)


@get("/join")
async def join_by_code(request: Req, code: str | None = None) -> Response[Any]:
    if code and normalise_code(code):
        return Redirect(f"/j/{normalise_code(code)}")
    return page(request, "live/enter_code.html", code=code or "", errors={})


@get("/j/{code:str}")
async def join_form(request: Req, rt: Runtime, code: str) -> Response[Any]:
    session = await sessions.by_code(rt, code)
    if session is None:
        message = N_("There is no session with this code. Check the code on the screen.")
        return page(
            request,
            "live/enter_code.html",
            status_code=404,
            code=code,
            errors={"code": message},
            messages=[("error", message)],
        )
    if session.status is SessionStatus.closed:
        return page(
            request,
            "errors/error.html",
            status_code=410,
            title=session.title,
            message=N_("This session has closed. Thank you for taking part."),
        )
    if await current_participant(request, session.id):
        return Redirect(f"/p/{session.id}")
    if await _was_removed(request, rt, session.id):
        return _removed_page(request, session.title)
    if not sessions.joinable(session):
        return page(
            request, "errors/error.html", status_code=409, title=session.title, message=participants.NOT_JOINABLE
        )
    return page(request, "live/join.html", session=session, form={}, errors={})


@post("/j/{code:str}")
async def join(request: Req, rt: Runtime, code: str) -> Response[Any]:
    data = await form_data(request)
    session = await sessions.by_code(rt, code)
    community_id = session.community_id if session else None
    device = request.cookies.get(members.device_cookie(community_id)) if community_id else None
    if session is not None and await _was_removed(request, rt, session.id):
        return _removed_page(request, session.title)
    try:
        participant, token, device = await participants.join(rt, code, data, auth.client_address(request), device)
    except LabsError as e:
        if session is None or e.status_code in (410, 429):
            raise
        if e.status_code == 403:  # this device's member was removed from the session
            return _removed_page(request, session.title)
        return page(
            request,
            "live/join.html",
            **failed(e, data),
            session=session,
        )
    cookies = [auth.cookie(request, participant_cookie(participant.session_id), token, COOKIE_DAYS * 86400)]
    if device and community_id:
        # The community's device cookie: the next session of this community knows this person.
        cookies.append(auth.cookie(request, members.device_cookie(community_id), device, members.DEVICE_DAYS * 86400))
    return Redirect(f"/p/{participant.session_id}", cookies=cookies)


@get("/p/{session_id:int}")
async def participant_page(request: Req, rt: Runtime, session_id: int, mine: str | None = None) -> Response[Any]:
    me = await current_participant(request, session_id)
    if me is None and await _was_removed(request, rt, session_id):
        return _removed_page(request)
    if me is None:
        # The same answer whether the session exists or not, and never its code: ids are sequential.
        message = N_("Join the session first: open its link or enter its code.")
        return page(request, "live/enter_code.html", status_code=404, code="", errors={}, messages=[("error", message)])
    return await _page(request, rt, me, mine=mine)


@get("/p/{session_id:int}/me.css", cache=False)
async def my_styles(request: Req, rt: Runtime, session_id: int) -> Response[str]:
    """The rules that pick out this participant's own notes on the shared wall."""
    me = await _me(request, rt, session_id)
    rules = (
        f'.note[data-author="{me.id}"] .own {{ display: block; }}\n'
        f'body:has(#only-mine:checked) .note:not([data-author="{me.id}"]) {{ display: none; }}\n'
    )
    return Response(rules, media_type="text/css")


async def _page(request: Req, rt: Runtime, me: Participant, mine: Any = 1, **extra: Any) -> Response[Any]:
    ctx = await state(rt, me.session_id, fragments.ROOM_REGIONS)
    block = extra.pop("block", None)
    return page(
        request,
        "live/participant.html",
        block=block,
        seq=ctx["session"].last_seq,
        me=me,
        my_votes=await votes.state(rt, me.session_id, me.id),
        my_poll=await polls.state(rt, me.session_id, me.id),
        # Their own notes that wait for approval (or were rejected), apart from the wall.
        my_pending=await notes.waiting(rt, me.session_id, mine, author=me.id),
        # The sessions a withdrawal covers, shown before the participant confirms it.
        reach=[] if block else await privacy.sessions_of_person(rt, me),
        **ctx,
        **extra,
    )


def _wants_json(request: Req) -> bool:
    return "application/json" in request.headers.get("accept", "")


@post("/p/{session_id:int}/notes")
async def post_note(request: Req, rt: Runtime, session_id: int) -> Response[Any]:
    """Used by the compose form: fetch() with JSON back (the offline queue), or a plain form post."""
    me = await _me(request, rt, session_id)
    note, seq = await notes.post(rt, session_id, await form_data(request), participant=me)
    if _wants_json(request):
        return Response({**note, "seq": seq}, status_code=201 if seq is not None else 200)
    return Redirect(f"/p/{session_id}")


@get("/p/{session_id:int}/notes/older")
async def older_notes(request: Req, rt: Runtime, session_id: int, before: int) -> Response[Any]:
    await _me(request, rt, session_id)
    return page(request, "live/older.html", block="older", **await fragments.older(rt, session_id, PARTICIPANT, before))


@get("/p/{session_id:int}/notes/{note_id:int}/edit")
async def edit_form(request: Req, rt: Runtime, session_id: int, note_id: int) -> Response[Any]:
    me = await _me(request, rt, session_id)
    session = await sessions.get(rt, session_id)
    return page(request, "live/edit_note.html", block="edit", note=await notes.own(rt, me, note_id), session=session)


@post("/p/{session_id:int}/notes/{note_id:int}")
async def edit_note(request: Req, rt: Runtime, session_id: int, note_id: int) -> Response[Any]:
    await notes.edit(rt, await _me(request, rt, session_id), note_id, await form_data(request))
    return Response(None, status_code=204)


@post("/p/{session_id:int}/notes/{note_id:int}/delete")
async def delete_note(request: Req, rt: Runtime, session_id: int, note_id: int) -> Response[Any]:
    await notes.delete(rt, await _me(request, rt, session_id), note_id)
    return Response(None, status_code=204)


@post("/p/{session_id:int}/votes/{note_id:int}")
async def cast_vote(request: Req, rt: Runtime, session_id: int, note_id: int) -> Response[Any]:
    me = await _me(request, rt, session_id)
    await votes.cast(rt, me, note_id)
    return await _page(request, rt, me, block="my_votes")


@post("/p/{session_id:int}/votes/{note_id:int}/retract")
async def retract_vote(request: Req, rt: Runtime, session_id: int, note_id: int) -> Response[Any]:
    me = await _me(request, rt, session_id)
    await votes.retract(rt, me, note_id)
    return await _page(request, rt, me, block="my_votes")


@post("/p/{session_id:int}/consent")
async def change_consent(request: Req, rt: Runtime, session_id: int) -> Response[Any]:
    me = await _me(request, rt, session_id)
    me = await participants.change_consent(rt, me, (await form_data(request)).get("consent", ""))
    return await _page(request, rt, me, messages=[("success", N_("Your choice is saved."))])


@post("/p/{session_id:int}/withdraw")
async def withdraw_consent(request: Req, rt: Runtime, session_id: int) -> Response[Any]:
    """The second tap: consent is withdrawn here and in the person's other sessions of the community."""
    me = await _me(request, rt, session_id)
    await privacy.withdraw(rt, me)
    me = await _me(request, rt, session_id)
    return await _page(request, rt, me, withdrawn=len(await privacy.sessions_of_person(rt, me)))


routes = [
    my_styles,
    join_by_code,
    join_form,
    join,
    participant_page,
    post_note,
    older_notes,
    edit_form,
    edit_note,
    delete_note,
    cast_vote,
    retract_vote,
    change_consent,
    withdraw_consent,
]
