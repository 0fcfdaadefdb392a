"""Plan and run sessions: the session itself, its agenda, co-facilitators, start, activity
changes, the countdown timer and closing."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from labs import catalogue, events, validate
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import DEFAULT_TIMEZONE, N_
from labs.models import (
    Account,
    Activity,
    ActivityType,
    Joining,
    LabSession,
    Participant,
    Role,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from labs.runtime import Runtime
from labs.services import communities, polls

# No 0/O, 1/I/L: a code read off a projector must not be mistyped.
JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8
MAX_TITLE = 200
MAX_PROMPT = 2000


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading -------------------------------------------------------------------------------


def _with_agenda() -> Any:
    return selectinload(LabSession.activities)


async def load(db: AsyncSession, session_id: int) -> LabSession:
    session = await db.scalar(select(LabSession).options(_with_agenda()).where(LabSession.id == session_id))
    if session is None:
        raise NotFound("No such session.")
    return session


async def can_run(db: AsyncSession, session_id: int, account: Account) -> bool:
    if account.role is Role.admin:
        return True
    return bool(
        await db.scalar(
            select(SessionFacilitator.session_id).where(
                SessionFacilitator.session_id == session_id, SessionFacilitator.account_id == account.id
            )
        )
    )


async def load_for(db: AsyncSession, session_id: int, account: Account) -> LabSession:
    """A session the account runs; 404 (not 403) otherwise, so ids of others' sessions don't leak."""
    if account.role not in (Role.admin, Role.facilitator) or not await can_run(db, session_id, account):
        raise NotFound("No such session.")
    return await load(db, session_id)


async def get_for(rt: Runtime, session_id: int, account: Account) -> LabSession:
    async with rt.db.read() as db:
        return await load_for(db, session_id, account)


async def get(rt: Runtime, session_id: int) -> LabSession:
    async with rt.db.read() as db:
        return await load(db, session_id)


async def by_code(rt: Runtime, code: str) -> LabSession | None:
    async with rt.db.read() as db:
        return await db.scalar(
            select(LabSession).options(_with_agenda()).where(LabSession.join_code == normalise_code(code))
        )


async def list_for(rt: Runtime, account: Account) -> list[LabSession]:
    query = select(LabSession).order_by(LabSession.starts_at.desc().nulls_last(), LabSession.id.desc())
    if account.role is not Role.admin:
        query = query.join(SessionFacilitator).where(SessionFacilitator.account_id == account.id)
    async with rt.db.read() as db:
        return list((await db.scalars(query)).all())


async def facilitators(rt: Runtime, session_id: int) -> list[SessionFacilitator]:
    async with rt.db.read() as db:
        rows = await db.scalars(
            select(SessionFacilitator)
            .options(selectinload(SessionFacilitator.account))
            .where(SessionFacilitator.session_id == session_id)
            .order_by(SessionFacilitator.lead.desc(), SessionFacilitator.added_at)
        )
        return list(rows.all())


async def participant_count(rt: Runtime, session_id: int) -> int:
    async with rt.db.read() as db:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.session_id == session_id, Participant.removed_at.is_(None))
            )
            or 0
        )


# --- shapes --------------------------------------------------------------------------------


def activity_data(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.id,
        "position": activity.position,
        "title": activity.title,
        "prompt": activity.prompt,
        "minutes": activity.minutes,
        "type": activity.type.value,
        "opened_at": activity.opened_at.isoformat() if activity.opened_at else None,
        "closed_at": activity.closed_at.isoformat() if activity.closed_at else None,
    }


def timer_data(session: LabSession) -> dict[str, Any]:
    if session.timer_ends_at is not None:
        return {"running": True, "ends_at": session.timer_ends_at.isoformat(), "remaining_s": None}
    return {"running": False, "ends_at": None, "remaining_s": session.timer_remaining_s}


def session_data(session: LabSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "description": session.description,
        "kind": session.kind.value,
        "status": session.status.value,
        "join_code": session.join_code,
        "joining": session.joining.value,
        "joinable": joinable(session),
        "premoderation": session.premoderation,
        "city": session.city,
        "language": session.language,
        "community_id": session.community_id,
        "starts_at": session.starts_at.isoformat() if session.starts_at else None,
        "current_activity_id": session.current_activity_id,
        "timer": timer_data(session),
        "last_seq": session.last_seq,
        "activities": [activity_data(a) for a in session.activities],
    }


# --- validation ----------------------------------------------------------------------------


def _minutes(value: Any) -> int:
    try:
        minutes = int(value if value not in (None, "") else 10)
    except (TypeError, ValueError):
        raise Invalid("Minutes must be a whole number.", {"minutes": "Enter a whole number of minutes."})
    if not 1 <= minutes <= 600:
        raise Invalid("Minutes must be between 1 and 600.", {"minutes": "Between 1 and 600."})
    return minutes


def _activity_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": validate.text(item.get("title"), "title", N_("The activity title"), MAX_TITLE, required=True),
        "prompt": validate.text(item.get("prompt"), "prompt", N_("The prompt"), MAX_PROMPT),
        "minutes": _minutes(item.get("minutes")),
        "type": validate.choice(ActivityType, item.get("type") or "brainstorm", "type"),
    }


def _parse_when(value: Any) -> datetime | None:
    """An ISO date and time; without a zone it is local time (LABS_TIMEZONE), as typed in a form."""
    if value in (None, ""):
        return None
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid("Give the start as a date and time (YYYY-MM-DDTHH:MM).", {"starts_at": "Invalid date."})
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=DEFAULT_TIMEZONE)).astimezone(UTC)


def _session_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "description": validate.text(data.get("description"), "description", N_("The description"), 5000),
        "kind": validate.choice(SessionKind, data.get("kind") or "workshop", "kind"),
        "city": validate.text(data.get("city"), "city", N_("The city"), 120) or None,
        "language": _choice_lang(data.get("language")),
        "starts_at": _parse_when(data.get("starts_at")),
        "premoderation": validate.flag(data.get("premoderation"), "premoderation"),
    }
    has_community = data.get("community_id") not in (None, "")
    fields["community_id"] = validate.integer(data["community_id"], "community_id") if has_community else None
    return fields


def _choice_lang(value: Any) -> str:
    value = str(value or "en")
    if value not in ("en", "nl"):
        raise Invalid("Language must be en or nl.", {"language": "Choose en or nl."})
    return value


# --- changes -------------------------------------------------------------------------------


async def create(rt: Runtime, account: Account, data: dict[str, Any]) -> LabSession:
    """A new draft session with its agenda; the creator becomes its lead facilitator."""
    fields = _session_fields(data)
    agenda = data.get("agenda") or []
    if not isinstance(agenda, list):
        raise Invalid("The agenda must be a list of activities.")
    raw = [item if isinstance(item, dict) else {} for item in agenda]
    items = [_activity_fields(item) for item in raw]
    questions = [polls.definition(item["type"], given) for item, given in zip(items, raw, strict=True)]
    status = SessionStatus.scheduled if fields["starts_at"] else SessionStatus.draft
    async with events.change(rt) as tx:
        if fields["community_id"] is not None:  # before the insert: an unknown one is a 404, not a broken key
            await communities.load_for(tx.db, fields["community_id"], account)
        for _ in range(5):
            code = new_join_code()
            if not await tx.db.scalar(select(LabSession.id).where(LabSession.join_code == code)):
                break
        session = LabSession(**fields, join_code=code, status=status, created_by_id=account.id, last_seq=0)
        tx.db.add(session)
        await tx.db.flush()
        tx.db.add(SessionFacilitator(session_id=session.id, account_id=account.id, lead=True))
        made = [Activity(session_id=session.id, position=position, **item) for position, item in enumerate(items)]
        tx.db.add_all(made)
        await tx.db.flush()
        actor = Actor.account(account.id)
        await tx.emit(
            Stream.session(session.id), catalogue.SessionCreated(title=session.title, kind=session.kind.value), actor
        )
        for activity, question in zip(made, questions, strict=True):
            await polls.define(tx, activity, activity.type, question, actor)
        if session.premoderation:
            await _premoderation_changed(tx, session, actor)
        await communities.place(tx, account, session, session.community_id, None)
    return await get(rt, session.id)


async def update(rt: Runtime, account: Account, session_id: int, data: dict[str, Any]) -> LabSession:
    fields = _session_fields(data)
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        await communities.place(tx, account, session, fields["community_id"], session.community_id)
        moderation = fields.pop("premoderation")
        for key, value in fields.items():
            setattr(session, key, value)
        if session.status is SessionStatus.draft and session.starts_at:
            session.status = SessionStatus.scheduled
        await tx.emit(Stream.session(session_id), _details(session), Actor.account(account.id))
        if moderation is not session.premoderation:
            _not_closed(session)
            session.premoderation = moderation
            await _premoderation_changed(tx, session, Actor.account(account.id))
    return await get(rt, session_id)


def _details(session: LabSession) -> catalogue.SessionUpdated:
    """session.updated carries every detail as it is now, so a reader never guesses what None means."""
    return catalogue.SessionUpdated(
        title=session.title,
        description=session.description,
        kind=session.kind.value,
        city=session.city,
        language=session.language,
        starts_at=session.starts_at.isoformat() if session.starts_at else None,
        community_id=session.community_id,
    )


async def set_community(
    rt: Runtime, account: Account, session_id: Any, community_id: int | None, *, leaving: int | None = None
) -> LabSession:
    """Put a session in a community, or take it out of community `leaving` (community_id None)."""
    async with events.change(rt) as tx:
        session = await load_for(tx.db, validate.integer(session_id, "session_id"), account)
        if leaving is not None and session.community_id != leaving:
            raise Invalid("That session is not in this community.", {"session_id": "Not in this community."})
        await communities.place(tx, account, session, community_id, session.community_id)
        if session.community_id != community_id:
            session.community_id = community_id
            await tx.emit(Stream.session(session_id), _details(session), Actor.account(account.id))
    return await get(rt, session_id)


async def add_activity(rt: Runtime, account: Account, session_id: int, data: dict[str, Any]) -> Activity:
    """An activity at the end of the agenda; a poll, scale or number one with its question."""
    fields = _activity_fields(data)
    question = polls.definition(fields["type"], data)
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)
        activity = Activity(session_id=session_id, position=len(session.activities), **fields)
        tx.db.add(activity)
        await tx.db.flush()
        actor = Actor.account(account.id)
        await tx.emit(Stream.session(session_id), catalogue.ActivityAdded(**activity_data(activity)), actor)
        await polls.define(tx, activity, activity.type, question, actor)
    return activity


async def update_activity(
    rt: Runtime, account: Account, session_id: int, activity_id: int, data: dict[str, Any]
) -> Activity:
    """Title, prompt, minutes and type; a poll, scale or number activity's question with it (given
    when its type changes to one, optional otherwise)."""
    fields = _activity_fields(data)
    given = data.get("question") not in (None, "")
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)  # a closed session's agenda is its record
        activity = _activity_of(session, activity_id)
        retyped = fields["type"] is not activity.type
        question = polls.definition(fields["type"], data) if retyped or given else None
        actor = Actor.account(account.id)
        if retyped or question is not None:
            await polls.define(tx, activity, fields["type"], question, actor)
        for key, value in fields.items():
            setattr(activity, key, value)
        await tx.emit(Stream.session(session_id), catalogue.ActivityUpdated(**activity_data(activity)), actor)
    return activity


async def remove_activity(rt: Runtime, account: Account, session_id: int, activity_id: int) -> None:
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)  # a closed session's agenda is its record
        activity = _activity_of(session, activity_id)
        if activity.opened_at is not None:
            raise Conflict("This activity has already run; it stays in the record.")
        session.activities.remove(activity)
        for position, other in enumerate(session.activities):
            other.position = position
        await tx.emit(Stream.session(session_id), catalogue.ActivityRemoved(id=activity_id), Actor.account(account.id))


async def move_activity(rt: Runtime, account: Account, session_id: int, activity_id: int, offset: int) -> None:
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)  # a closed session's agenda is its record
        activity = _activity_of(session, activity_id)
        order = list(session.activities)
        index = order.index(activity)
        target = max(0, min(len(order) - 1, index + offset))
        order.insert(target, order.pop(index))
        for position, other in enumerate(order):
            other.position = position
        await tx.emit(
            Stream.session(session_id),
            catalogue.ActivitiesReordered(order=[a.id for a in order]),
            Actor.account(account.id),
        )


async def add_facilitator(rt: Runtime, account: Account, session_id: int, email: str) -> Account:
    async with events.change(rt) as tx:
        await load_for(tx.db, session_id, account)
        other = await tx.db.scalar(select(Account).where(Account.email == (email or "").strip().lower()))
        if other is None or other.role not in (Role.facilitator, Role.admin):
            raise Invalid("No facilitator account with that email.", {"email": "No facilitator with that email."})
        if await tx.db.get(SessionFacilitator, (session_id, other.id)):
            raise Conflict("That person already runs this session.", {"email": "Already a facilitator here."})
        tx.db.add(SessionFacilitator(session_id=session_id, account_id=other.id))
        await tx.emit(
            Stream.session(session_id), catalogue.FacilitatorAdded(account_id=other.id), Actor.account(account.id)
        )
    return other


async def start(rt: Runtime, account: Account, session_id: int) -> LabSession:
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        if session.status is SessionStatus.live:
            return session
        _not_closed(session)
        session.status = SessionStatus.live
        session.started_at = _now()
        await tx.emit(Stream.session(session_id), catalogue.SessionStarted(), Actor.account(account.id))
        if session.current_activity_id is None and session.activities:
            await _activate(tx, session, session.activities[0], Actor.account(account.id))
    return await get(rt, session_id)


def joinable(session: LabSession) -> bool:
    """New people may join a live session unless it is locked, a planned one once opened early."""
    if session.status is SessionStatus.live:
        return session.joining is not Joining.locked
    return session.status is not SessionStatus.closed and session.joining is Joining.open


async def set_joining(rt: Runtime, account: Account, session_id: int, value: Any) -> LabSession:
    """Open a planned session for joining early, lock joining (those present stay), or go back
    to the default (joining while live)."""
    joining = validate.choice(Joining, value, "joining")
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)
        if session.joining is not joining:
            session.joining = joining
            changed = catalogue.SessionJoiningChanged(joining=joining.value)
            await tx.emit(Stream.session(session_id), changed, Actor.account(account.id))
    return await get(rt, session_id)


async def set_premoderation(rt: Runtime, account: Account, session_id: int, value: Any) -> LabSession:
    """Pre-moderation on (participants' new notes wait for approval) or off. Off approves
    nothing: notes that wait stay in the console's queue until approved or rejected."""
    moderation = validate.flag(value, "premoderation")
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)
        if session.premoderation is not moderation:
            session.premoderation = moderation
            await _premoderation_changed(tx, session, Actor.account(account.id))
    return await get(rt, session_id)


async def _premoderation_changed(tx: events.Change, session: LabSession, actor: Actor) -> None:
    changed = catalogue.SessionPremoderationChanged(premoderation=session.premoderation)
    await tx.emit(Stream.session(session.id), changed, actor)


async def activate(rt: Runtime, account: Account, session_id: int, activity_id: int) -> LabSession:
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        if session.status is not SessionStatus.live:
            raise Conflict("Start the session first.")
        await _activate(tx, session, _activity_of(session, activity_id), Actor.account(account.id))
    return await get(rt, session_id)


async def activate_next(rt: Runtime, account: Account, session_id: int) -> LabSession:
    async with rt.db.read() as db:
        session = await load_for(db, session_id, account)
    ids = [a.id for a in session.activities]
    if session.current_activity_id in ids and ids.index(session.current_activity_id) + 1 < len(ids):
        return await activate(rt, account, session_id, ids[ids.index(session.current_activity_id) + 1])
    raise Conflict("This is the last activity.")


async def _activate(tx: events.Change, session: LabSession, activity: Activity, actor: Actor) -> None:
    now = _now()
    for other in session.activities:
        if other.id == session.current_activity_id and other.id != activity.id:
            other.closed_at = now
    activity.opened_at = activity.opened_at or now
    activity.closed_at = None
    session.current_activity_id = activity.id
    session.timer_ends_at = now + timedelta(minutes=activity.minutes)
    session.timer_remaining_s = None
    await tx.emit(
        Stream.session(session.id),
        catalogue.ActivityActivated(
            activity=catalogue.ActivityState(**activity_data(activity)),
            timer=catalogue.TimerState(**timer_data(session)),
        ),
        actor,
    )


async def set_timer(
    rt: Runtime, account: Account, session_id: int, action: str, seconds: int | None = None
) -> LabSession:
    """Timer actions: start (with seconds), pause, resume, add (seconds), stop."""
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        _not_closed(session)
        now = _now()
        remaining = (
            max(0, int((session.timer_ends_at - now).total_seconds()))
            if session.timer_ends_at
            else session.timer_remaining_s
        )
        if action == "start":
            if seconds is None or not 1 <= seconds <= 36_000:
                raise Invalid("Give the timer between 1 second and 10 hours.", {"seconds": "1 to 36000."})
            session.timer_ends_at, session.timer_remaining_s = now + timedelta(seconds=seconds), None
        elif action == "pause" and session.timer_ends_at:
            session.timer_ends_at, session.timer_remaining_s = None, remaining
        elif action == "resume" and session.timer_remaining_s is not None:
            session.timer_ends_at = now + timedelta(seconds=session.timer_remaining_s)
            session.timer_remaining_s = None
        elif action == "add":
            extra = 60 if seconds is None else seconds
            if not 1 <= extra <= 36_000 or (remaining or 0) + extra > 36_000:
                raise Invalid("The timer runs at most 10 hours; add 1 second or more.", {"seconds": "1 to 36000."})
            if session.timer_ends_at:
                session.timer_ends_at += timedelta(seconds=extra)
            else:
                session.timer_remaining_s = (remaining or 0) + extra
        elif action == "stop":
            session.timer_ends_at, session.timer_remaining_s = None, None
        elif action not in ("pause", "resume"):
            raise Invalid(f"Unknown timer action {action!r}; allowed: start, pause, resume, add, stop.")
        else:
            return session
        await tx.emit(
            Stream.session(session_id), catalogue.TIMER_EVENTS[action](**timer_data(session)), Actor.account(account.id)
        )
    return await get(rt, session_id)


async def close(rt: Runtime, account: Account, session_id: int) -> LabSession:
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        if session.status is SessionStatus.closed:
            return session
        now = _now()
        session.status = SessionStatus.closed
        session.closed_at = now
        session.timer_ends_at = session.timer_remaining_s = None
        for activity in session.activities:
            if activity.id == session.current_activity_id:
                activity.closed_at = now
        await tx.emit(Stream.session(session_id), catalogue.SessionClosed(), Actor.account(account.id))
    return await get(rt, session_id)


def _activity_of(session: LabSession, activity_id: int) -> Activity:
    for activity in session.activities:
        if activity.id == activity_id:
            return activity
    raise NotFound("No such activity in this session.")


def _not_closed(session: LabSession) -> None:
    if session.status is SessionStatus.closed:
        raise Conflict("This session is closed.")
