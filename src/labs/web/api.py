"""The JSON integration API (/api/v1) and the live event stream (websocket). Bearer tokens only:
account tokens from POST /auth/tokens, participant tokens from POST /join. Author, role and
session always come from the token, never from the payload."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, Router, WebSocket, delete, get, post, put, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect

from labs import events, live, paging
from labs.catalogue import Audience
from labs.errors import Invalid, LabsError, NotFound, Unauthorized
from labs.models import Participant
from labs.runtime import Runtime
from labs.services import accounts, cases, notes, participants, sessions, votes
from labs.validate import LARGEST
from labs.web import auth, fragments
from labs.web.auth import Identity
from labs.web.render import request_lang

MAX_WS_MESSAGE = 64 * 1024
# Open live streams per caller (participant or account) in one server process: a phone and a
# laptop with a few tabs each fit; a script opening hundreds does not.
MAX_STREAMS_PER_CALLER = 10
# A removed participant's streams close with this code (and do not come back: their token is void).
REMOVED_CLOSE = 4403
PARTICIPANT_VIEWS = (fragments.PARTICIPANT, live.JSON_PARTICIPANT)


class TokenRequest(msgspec.Struct):
    email: str
    password: str
    # A label its owner knows it by again ("dashboard", "R scripts"); shown in token lists.
    name: Annotated[str, msgspec.Meta(max_length=accounts.TOKEN_NAME_LENGTH)] = ""
    # Fewer days than the default (LABS_TOKEN_DAYS, 90), up to LABS_TOKEN_MAX_DAYS (365).
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=LARGEST)] | None = None


class TokenResponse(msgspec.Struct):
    token: str
    id: int
    name: str
    expires_at: str


class PollFields(msgspec.Struct, kw_only=True):
    """What a poll, scale or number question holds besides its question (labs.services.polls)."""

    kind: str | None = None  # single or multiple (poll), scale, number
    options: list[str] = []
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: str = ""
    max_label: str = ""
    number_min: float | None = None
    number_max: float | None = None
    unit: str = ""


class ActivityIn(PollFields, kw_only=True):
    title: str
    prompt: str = ""
    minutes: int = 10
    type: str = "brainstorm"
    question: str = ""  # a poll, scale or number activity's question (required for those types)


class SessionIn(msgspec.Struct):
    title: str
    kind: str = "workshop"
    description: str = ""
    city: str | None = None
    language: str = "en"
    starts_at: str | None = None
    community_id: int | None = None
    premoderation: bool = False
    agenda: list[ActivityIn] = []


class JoinIn(msgspec.Struct):
    join_code: str
    display_name: str
    consent: str
    organisation: str | None = None
    city: str | None = None
    sector: str | None = None
    # From an earlier join in the same community: the participant is that member again.
    device_token: str | None = None


class JoinOut(msgspec.Struct):
    session_id: int
    participant_id: int
    token: str
    member_id: int | None = None
    device_token: str | None = None


class NoteIn(msgspec.Struct):
    client_id: str
    body: str
    kind: str = "idea"
    activity_id: int | None = None
    case_id: int | None = None
    participant_id: int | None = None  # facilitators only: a proxy participant of the session


class NoteEdit(msgspec.Struct):
    body: str
    kind: str | None = None


class ModerationIn(msgspec.Struct):
    action: Literal["hide", "restore", "pin", "unpin", "approve", "reject"]


class ClusterIn(msgspec.Struct):
    name: str


class TimerIn(msgspec.Struct):
    action: Literal["start", "pause", "resume", "add", "stop"]
    seconds: int | None = None


class VoteRoundIn(msgspec.Struct):
    votes: int = 3
    title: str = ""


class VoteIn(msgspec.Struct):
    note_id: int


class ShareIn(msgspec.Struct):
    case_id: int
    presenter: str | None = None
    activity_id: int | None = None


class ConsentIn(msgspec.Struct):
    consent: str


def _dict(data: msgspec.Struct) -> dict[str, Any]:
    return msgspec.to_builtins(data)


def _account(identity: Identity) -> Any:
    assert identity.account
    return identity.account


def _participant_of(identity: Identity, session_id: int) -> Participant:
    if identity.participant is None:
        raise Unauthorized(identity.problem or "Send an account or participant bearer token.")
    if identity.participant.session_id != session_id:
        raise NotFound("No such session.")
    return identity.participant


# --- auth and sessions ---------------------------------------------------------------------


@post(
    "/auth/tokens",
    status_code=201,
    summary="Get a bearer token for an account",
    description="The token is in this answer only; the server keeps its digest. It expires after"
    " `expires_in_days` (default 90, at most the server's maximum, 365 unless configured).",
)
async def create_token(request: Request[Any, Any, State], rt: Runtime, data: TokenRequest) -> TokenResponse:
    issued = await accounts.issue_api_token(
        rt,
        data.email,
        data.password,
        name=data.name,
        expires_in_days=data.expires_in_days,
        client=auth.client_address(request),
    )
    return TokenResponse(issued.token, issued.row.id, issued.row.name, issued.row.expires_at.isoformat())


def _token_page(found: paging.Page[accounts.TokenRow]) -> dict[str, Any]:
    return {"items": [t.data() for t in found.items], **found.meta()}


@get("/auth/tokens", guards=[auth.require_account], summary="My API tokens, newest first (paged)")
async def list_tokens(
    rt: Runtime, identity: Identity, page: str | None = None, per_page: str | None = None
) -> dict[str, Any]:
    mine = _account(identity).id
    return _token_page(await accounts.list_api_tokens(rt, account_id=mine, page=page, per_page=per_page))


@delete(
    "/auth/tokens/{token_id:int}",
    guards=[auth.require_account],
    status_code=204,
    summary="Revoke an API token (yours; admins: anyone's)",
)
async def revoke_token(rt: Runtime, identity: Identity, token_id: int) -> None:
    await accounts.revoke_api_token(rt, _account(identity), token_id)


@get("/admin/tokens", guards=[auth.admin], summary="Every account's API tokens, newest first (paged)")
async def all_tokens(
    rt: Runtime, account_id: int | None = None, page: str | None = None, per_page: str | None = None
) -> dict[str, Any]:
    return _token_page(await accounts.list_api_tokens(rt, account_id=account_id, page=page, per_page=per_page))


@post("/sessions", guards=[auth.facilitator], status_code=201, summary="Create a session with its agenda")
async def create_session(rt: Runtime, identity: Identity, data: SessionIn) -> dict[str, Any]:
    return sessions.session_data(await sessions.create(rt, _account(identity), _dict(data)))


@get("/sessions", guards=[auth.facilitator], summary="Sessions the caller runs")
async def list_sessions(rt: Runtime, identity: Identity) -> list[dict[str, Any]]:
    found = await sessions.list_for(rt, _account(identity))
    return [sessions.session_data(await sessions.get(rt, s.id)) for s in found]


@get("/sessions/{session_id:int}", summary="A session (its facilitators and participants)")
async def get_session(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    if identity.account:
        return sessions.session_data(await sessions.get_for(rt, session_id, identity.account))
    _participant_of(identity, session_id)
    return sessions.session_data(await sessions.get(rt, session_id))


@post("/sessions/{session_id:int}/start", guards=[auth.facilitator], status_code=200)
async def start_session(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    return sessions.session_data(await sessions.start(rt, _account(identity), session_id))


class JoiningIn(msgspec.Struct):
    joining: Literal["when_live", "open", "locked"]


@post(
    "/sessions/{session_id:int}/joining",
    guards=[auth.facilitator],
    status_code=200,
    summary="Who may join: when_live (default), open (before it is live) or locked",
)
async def set_joining(rt: Runtime, identity: Identity, session_id: int, data: JoiningIn) -> dict[str, Any]:
    return sessions.session_data(await sessions.set_joining(rt, _account(identity), session_id, data.joining))


class PremoderationIn(msgspec.Struct):
    premoderation: bool


@post(
    "/sessions/{session_id:int}/premoderation",
    guards=[auth.facilitator],
    status_code=200,
    summary="Pre-moderation on or off: participants' new notes wait for approval",
)
async def set_premoderation(rt: Runtime, identity: Identity, session_id: int, data: PremoderationIn) -> dict[str, Any]:
    return sessions.session_data(
        await sessions.set_premoderation(rt, _account(identity), session_id, data.premoderation)
    )


@post("/sessions/{session_id:int}/close", guards=[auth.facilitator], status_code=200)
async def close_session(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    return sessions.session_data(await sessions.close(rt, _account(identity), session_id))


@post("/sessions/{session_id:int}/activities/{activity_id:int}/activate", guards=[auth.facilitator], status_code=200)
async def activate_activity(rt: Runtime, identity: Identity, session_id: int, activity_id: int) -> dict[str, Any]:
    return sessions.session_data(await sessions.activate(rt, _account(identity), session_id, activity_id))


@post("/sessions/{session_id:int}/timer", guards=[auth.facilitator], status_code=200)
async def set_timer(rt: Runtime, identity: Identity, session_id: int, data: TimerIn) -> dict[str, Any]:
    return sessions.session_data(
        await sessions.set_timer(rt, _account(identity), session_id, data.action, data.seconds)
    )


# --- participants --------------------------------------------------------------------------


@post("/join", status_code=201, summary="Join a session by its code (no account)")
async def join(request: Request[Any, Any, State], rt: Runtime, data: JoinIn) -> JoinOut:
    joined = await participants.join(rt, data.join_code, _dict(data), auth.client_address(request), data.device_token)
    p = joined.participant
    return JoinOut(p.session_id, p.id, joined.token, member_id=p.member_id, device_token=joined.device)


class RemoveIn(msgspec.Struct):
    notes: Literal["keep", "remove"]


@post(
    "/sessions/{session_id:int}/participants/{participant_id:int}/remove",
    guards=[auth.facilitator],
    status_code=200,
    summary="Remove a participant: their token stops working; their notes kept or removed",
)
async def remove_participant(
    rt: Runtime, identity: Identity, session_id: int, participant_id: int, data: RemoveIn
) -> dict[str, Any]:
    removed = await participants.remove(rt, _account(identity), session_id, participant_id, data.notes)
    return {**participants.participant_data(removed), "removed_at": removed.removed_at.isoformat()}  # type: ignore[union-attr]


@put("/sessions/{session_id:int}/consent", guards=[auth.require_participant], summary="Change my consent")
async def change_consent(rt: Runtime, identity: Identity, session_id: int, data: ConsentIn) -> dict[str, Any]:
    participant = await participants.change_consent(rt, _participant_of(identity, session_id), data.consent)
    return participants.participant_data(participant)


# --- notes, clusters, votes ----------------------------------------------------------------


@post("/sessions/{session_id:int}/notes", summary="Post a note (idempotent by client_id)")
async def post_note(rt: Runtime, identity: Identity, session_id: int, data: NoteIn) -> Response[dict[str, Any]]:
    payload = _dict(data)
    if identity.account:
        note, seq = await notes.post(rt, session_id, payload, account=identity.account)
    else:
        payload.pop("participant_id", None)
        note, seq = await notes.post(rt, session_id, payload, participant=_participant_of(identity, session_id))
    # The same client_id again: 200 with the first note, and nothing new written.
    return Response({**note, "seq": seq}, status_code=201 if seq is not None else 200)


@get("/sessions/{session_id:int}/notes", summary="The notes of a session")
async def list_notes(rt: Runtime, identity: Identity, session_id: int) -> list[dict[str, Any]]:
    if identity.account:
        await sessions.get_for(rt, session_id, identity.account)
        return await notes.wall(rt, session_id, include_hidden=True)
    me = _participant_of(identity, session_id)
    return await notes.wall(rt, session_id, include_hidden=False, viewer=me.id)


@put("/sessions/{session_id:int}/notes/{note_id:int}", guards=[auth.require_participant])
async def edit_note(rt: Runtime, identity: Identity, session_id: int, note_id: int, data: NoteEdit) -> dict[str, Any]:
    return await notes.edit(rt, _participant_of(identity, session_id), note_id, _dict(data))


@post("/sessions/{session_id:int}/notes/{note_id:int}/delete", guards=[auth.require_participant], status_code=204)
async def delete_note(rt: Runtime, identity: Identity, session_id: int, note_id: int) -> None:
    await notes.delete(rt, _participant_of(identity, session_id), note_id)


@post("/sessions/{session_id:int}/notes/{note_id:int}/moderation", guards=[auth.facilitator], status_code=200)
async def moderate_note(
    rt: Runtime, identity: Identity, session_id: int, note_id: int, data: ModerationIn
) -> dict[str, Any]:
    if data.action in notes.REVIEW:
        return await notes.review(rt, _account(identity), session_id, note_id, data.action)
    return await notes.moderate(rt, _account(identity), session_id, note_id, data.action)


@put("/sessions/{session_id:int}/notes/{note_id:int}/cluster", guards=[auth.facilitator])
async def cluster_note(
    rt: Runtime, identity: Identity, session_id: int, note_id: int, data: ClusterIn
) -> dict[str, Any]:
    return await notes.cluster_note(rt, _account(identity), session_id, note_id, data.name)


@post("/sessions/{session_id:int}/votes/rounds", guards=[auth.facilitator], status_code=201)
async def open_vote_round(rt: Runtime, identity: Identity, session_id: int, data: VoteRoundIn) -> dict[str, Any]:
    return await votes.open_round(rt, _account(identity), session_id, data.votes, data.title)


@post("/sessions/{session_id:int}/votes/{action:str}", guards=[auth.facilitator], status_code=200)
async def end_vote_round(rt: Runtime, identity: Identity, session_id: int, action: str) -> dict[str, Any]:
    if action not in ("close", "reveal"):
        raise Invalid(f"Unknown voting action {action!r}; allowed: close, reveal.")
    await votes.close_round(rt, _account(identity), session_id, reveal=action == "reveal")
    return await votes.state(rt, session_id) or {}


@post("/sessions/{session_id:int}/votes", guards=[auth.require_participant], status_code=201)
async def cast_vote(rt: Runtime, identity: Identity, session_id: int, data: VoteIn) -> dict[str, Any]:
    return await votes.cast(rt, _participant_of(identity, session_id), data.note_id)


@get("/sessions/{session_id:int}/votes", summary="The current voting round (results once revealed)")
async def vote_state(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    if identity.account:
        await sessions.get_for(rt, session_id, identity.account)
        return await votes.state(rt, session_id) or {}
    participant = _participant_of(identity, session_id)
    return await votes.state(rt, session_id, participant.id) or {}


# --- cases ---------------------------------------------------------------------------------


@post("/sessions/{session_id:int}/cases", guards=[auth.facilitator], status_code=201, summary="Share a case")
async def share_case(rt: Runtime, identity: Identity, session_id: int, data: ShareIn) -> dict[str, Any]:
    share = await cases.share_case(rt, _account(identity), session_id, data.case_id, data.presenter, data.activity_id)
    return cases.share_data(share, await cases.get_case(rt, share.case_id))


# --- the event log -------------------------------------------------------------------------


async def _audience(rt: Runtime, identity: Identity, session_id: int) -> str:
    """JSON audience for an API caller, or 404 when the session is not theirs."""
    if identity.account:
        await sessions.get_for(rt, session_id, identity.account)
        return live.JSON_FACILITATOR
    _participant_of(identity, session_id)
    return live.JSON_PARTICIPANT


def _page(after: int, limit: int) -> None:
    if not 0 <= after < 2**53 or not 1 <= limit <= 5000:
        raise Invalid("after must be ≥ 0 and limit between 1 and 5000.")


@get("/sessions/{session_id:int}/events", summary="Events after seq N, oldest first (at most `limit`)")
async def list_events(
    rt: Runtime, identity: Identity, session_id: int, after: int = 0, limit: int = 1000
) -> dict[str, Any]:
    audience = await _audience(rt, identity, session_id)
    _page(after, limit)
    stream = events.Stream.session(session_id)
    async with rt.db.read() as db:
        found = [events.wire(e) for e in await events.since(db, stream, after, limit=limit)]
        return {
            "events": await events.visible(db, found, live.AUDIENCE_OF[audience], _viewer(identity, audience)),
            "last_seq": await events.last_seq(db, stream),
        }


def _viewer(identity: Identity, audience: str) -> int | None:
    """The participant reading a participant's view (their own waiting notes are theirs)."""
    return identity.participant.id if identity.participant and audience in PARTICIPANT_VIEWS else None


@get(
    "/streams/{kind:str}/{stream_id:int}/events",
    guards=[auth.facilitator],
    summary="Events of a case's, an outcome's or a community's own stream after seq N",
)
async def list_stream_events(
    rt: Runtime, kind: str, stream_id: int, after: int = 0, limit: int = 1000
) -> dict[str, Any]:
    """Changes that belong to no session, numbered per stream like a session's (facilitators and
    admins; a session's own log is /sessions/{id}/events)."""
    if kind not in events.STREAM_KINDS or kind == "session":
        raise NotFound("No such stream; kinds: case, outcome, community.")
    return await stream_events(rt, events.Stream(kind, stream_id), after, limit)


async def stream_events(
    rt: Runtime, stream: events.Stream, after: int, limit: int, audience: Audience = Audience.facilitator
) -> dict[str, Any]:
    """One page of a stream as `audience` sees it: the answer of every `…/events` call outside a
    session (the caller has checked who may read it)."""
    _page(after, limit)
    async with rt.db.read() as db:
        found = [events.wire(e) for e in await events.since(db, stream, after, limit=limit)]
        return {"events": await events.visible(db, found, audience), "last_seq": await events.last_seq(db, stream)}


def _same_origin(socket: WebSocket[Any, Any, State], rt: Runtime) -> bool:
    origin = socket.headers.get("origin")
    if not origin:
        return True  # not a browser: scripts authenticate with a bearer token
    allowed = {socket.headers.get("host", "")}
    if rt.settings.public_url:
        allowed.add(urlsplit(rt.settings.public_url).netloc)
    return urlsplit(origin).netloc in allowed


async def _stream_audience(socket: WebSocket[Any, Any, State], rt: Runtime, session_id: int, view: str | None) -> str:
    identity = await auth.identify(socket)
    if view in fragments.HTML_AUDIENCES:
        if view in (fragments.CONSOLE, fragments.PROJECTOR) and identity.account and not identity.via_bearer:
            await sessions.get_for(rt, session_id, identity.account)
            return view
        if view == fragments.PARTICIPANT and identity.participant:
            return view
        raise NotFound("No such session.")
    return await _audience(rt, identity, session_id)


@websocket("/sessions/{session_id:int}/stream")
async def stream(
    socket: WebSocket[Any, Any, State], session_id: int, after: int = 0, view: str | None = None, batch: int = 0
) -> None:
    """Every event after `after`, then live: one JSON text frame per event, or with batch=1 frames
    {"events": [...]} of one or more consecutive events (HTML fragments for the app's own pages,
    which ask with ?view=; several events per frame). Messages: {"type": "ping"} → pong;
    {"type": "resync", "after": N}."""
    rt: Runtime = socket.app.state.runtime
    hub: live.Hub = socket.app.state.hub
    if not _same_origin(socket, rt):
        await socket.close(code=4403, reason="Cross-origin websocket refused")
        return
    try:
        audience = await _stream_audience(socket, rt, session_id, view)
    except LabsError:
        await socket.close(code=4404, reason="No such session, or not yours")
        return
    identity = await auth.identify(socket)
    who = identity.participant or identity.account
    caller = f"{'p' if identity.participant else 'a'}{who.id if who else 0}"
    streams: Counter[str] = socket.app.state.setdefault("open_streams", Counter())
    if streams[caller] >= MAX_STREAMS_PER_CALLER:
        await socket.close(code=4429, reason=f"At most {MAX_STREAMS_PER_CALLER} live streams at once")
        return
    streams[caller] += 1
    try:
        await _serve(socket, rt, hub, session_id, audience, identity, after, batch)
    finally:
        streams[caller] -= 1
        if streams[caller] <= 0:
            del streams[caller]


async def _serve(
    socket: WebSocket[Any, Any, State],
    rt: Runtime,
    hub: live.Hub,
    session_id: int,
    audience: str,
    identity: Identity,
    after: int,
    batch: int,
) -> None:
    await socket.accept()

    async def send(frame: str) -> None:
        # The ASGI message itself, not send_text: one frame goes to every phone in the hall, and
        # each layer skipped is skipped a thousand times.
        await socket.send({"type": "websocket.send", "bytes": None, "text": frame})

    lang = request_lang(socket, identity)

    client = live.Client(
        audience=audience, send=send, lang=lang, batch=batch == 1, participant_id=_viewer(identity, audience)
    )

    async def reset() -> None:
        await send(
            await hub.snapshot(session_id, client.key, lambda: fragments.snapshot(rt, session_id, audience, lang))
        )

    pump = asyncio.create_task(hub.serve(session_id, client, max(after, 0), reset))

    closing: list[asyncio.Future[None]] = []

    def finished(task: asyncio.Task[None]) -> None:
        # A removed participant's stream ends for good; if delivery failed (or the client stopped
        # reading), 1011, so the client reconnects and resumes from its last seq.
        if not task.cancelled():
            removed = isinstance(task.exception(), live.Removed)
            ending = _farewell(socket, audience, lang) if removed else _close(socket, 1011)
            closing.append(asyncio.ensure_future(ending))

    pump.add_done_callback(finished)
    try:
        while True:
            raw = await socket.receive_text()
            reply = _answer(raw, client)
            if reply:
                await socket.send_text(json.dumps(reply))
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()


def _answer(raw: str, client: live.Client) -> dict[str, Any] | None:
    if len(raw.encode()) > MAX_WS_MESSAGE:
        return {"type": "error", "error": f"Message larger than {MAX_WS_MESSAGE // 1024} KiB."}
    try:
        message = json.loads(raw)
    except ValueError:
        return {"type": "error", "error": "Malformed JSON."}
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        return {"type": "pong"}
    if kind == "resync":
        after = message.get("after")
        if not isinstance(after, int) or after < 0:
            return {"type": "error", "error": "resync needs a whole number 'after' ≥ 0."}
        client.resync(after)
        return None
    return {"type": "error", "error": f"Unknown message type {kind!r}; known: ping, resync."}


async def _close(socket: WebSocket[Any, Any, State], code: int, reason: str | None = None) -> None:
    try:
        await socket.close(code=code, reason=reason)
    except Exception:  # already closed
        return


async def _farewell(socket: WebSocket[Any, Any, State], audience: str, lang: str) -> None:
    """A removed participant's stream ends for good: their page is told so, then 4403."""
    if audience == fragments.PARTICIPANT:
        with contextlib.suppress(Exception):
            await socket.send_text(fragments.removed_notice(lang))
    await _close(socket, REMOVED_CLOSE, "You were removed from this session")


routes = [
    Router(
        path="/api/v1",
        route_handlers=[
            create_token,
            list_tokens,
            revoke_token,
            all_tokens,
            create_session,
            list_sessions,
            get_session,
            start_session,
            close_session,
            set_joining,
            set_premoderation,
            activate_activity,
            set_timer,
            join,
            remove_participant,
            change_consent,
            post_note,
            list_notes,
            edit_note,
            delete_note,
            moderate_note,
            cluster_note,
            open_vote_round,
            end_vote_round,
            cast_vote,
            vote_state,
            share_case,
            list_events,
            list_stream_events,
            stream,
        ],
    )
]
