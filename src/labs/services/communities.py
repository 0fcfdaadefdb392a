"""Communities over years: a learning community, living lab or community of practice groups
sessions; its page reads the timeline of sessions, the cases shared, the outcomes with their
follow-ups and the members who came back. Every change is an event on the community's stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Case,
    CaseShare,
    Community,
    CommunityKind,
    ErasureMode,
    FollowUp,
    FollowUpStatus,
    LabSession,
    Member,
    Note,
    NoteApproval,
    Outcome,
    Participant,
    Role,
    SessionFacilitator,
)
from labs.paging import Page
from labs.runtime import Runtime

MAX_NAME = 200
R = TypeVar("R")


# --- access --------------------------------------------------------------------------------


def _managed_by(account: Account) -> Any:
    """Communities an account may run: those it made and those holding a session it runs."""
    runs = (
        select(LabSession.community_id)
        .join(SessionFacilitator, SessionFacilitator.session_id == LabSession.id)
        .where(SessionFacilitator.account_id == account.id, LabSession.community_id.is_not(None))
    )
    return or_(Community.created_by_id == account.id, Community.id.in_(runs))


async def load_for(db: AsyncSession, community_id: int, account: Account) -> Community:
    """A community the account runs (admins: any); 404 otherwise, so others' ids don't leak."""
    query = select(Community).where(Community.id == community_id)
    if account.role is not Role.admin:
        if account.role is not Role.facilitator:
            raise NotFound("No such community.")
        query = query.where(_managed_by(account))
    community = await db.scalar(query)
    if community is None:
        raise NotFound("No such community.")
    return community


async def get_for(rt: Runtime, community_id: int, account: Account) -> Community:
    async with rt.db.read() as db:
        return await load_for(db, community_id, account)


async def list_for(rt: Runtime, account: Account, page: Any = 1, per_page: Any = None) -> Page[Community]:
    query = select(Community).order_by(Community.name, Community.id)
    if account.role is not Role.admin:
        query = query.where(_managed_by(account))
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page, per_page)


async def choices_for(rt: Runtime, account: Account) -> list[Community]:
    """Every community the account may put a session in (the session form's menu)."""
    query = select(Community).order_by(Community.name)
    if account.role is not Role.admin:
        query = query.where(_managed_by(account))
    async with rt.db.read() as db:
        return list((await db.scalars(query)).all())


# --- shapes --------------------------------------------------------------------------------


def _state(c: Community) -> dict[str, Any]:
    """What a community is: its API shape and its events' payload share it."""
    return {
        "name": c.name,
        "kind": c.kind.value,
        "description": c.description,
        "city": c.city,
        "started_on": c.started_on.isoformat() if c.started_on else None,
        "erasure_mode": c.erasure_mode.value,
    }


def community_data(c: Community) -> dict[str, Any]:
    return {"id": c.id, **_state(c), "created_at": c.created_at.isoformat()}


# --- validation ----------------------------------------------------------------------------


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise Invalid("Give the date as YYYY-MM-DD.", {field: "Invalid date."}) from None


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": validate.text(data.get("name"), "name", N_("The name"), MAX_NAME, required=True),
        "kind": validate.choice(CommunityKind, data.get("kind") or "learning_community", "kind"),
        "description": validate.text(data.get("description"), "description", N_("The description"), 5000),
        "city": validate.text(data.get("city"), "city", N_("The city"), 120) or None,
        "started_on": _date(data.get("started_on"), "started_on"),
        "erasure_mode": validate.choice(ErasureMode, data.get("erasure_mode") or "unlink", "erasure_mode"),
    }


# --- changes -------------------------------------------------------------------------------


async def create(rt: Runtime, account: Account, data: dict[str, Any]) -> Community:
    fields = _fields(data)
    async with events.change(rt) as tx:
        community = Community(**fields, created_by_id=account.id)
        tx.db.add(community)
        await tx.db.flush()
        await tx.emit(
            Stream.community(community.id),
            catalogue.CommunityCreated(community_id=community.id, **_state(community)),
            Actor.account(account.id),
        )
    return community


async def update(rt: Runtime, account: Account, community_id: int, data: dict[str, Any]) -> Community:
    fields = _fields(data)
    async with events.change(rt) as tx:
        community = await load_for(tx.db, community_id, account)
        for key, value in fields.items():
            setattr(community, key, value)
        await tx.emit(
            Stream.community(community.id),
            catalogue.CommunityUpdated(community_id=community.id, **_state(community)),
            Actor.account(account.id),
        )
    return community


async def place(
    tx: events.Change, account: Account, session: LabSession, community_id: int | None, was: int | None
) -> None:
    """Inside a session change: the session moves into `community_id` (None: out of `was`).
    Both communities hear of it on their own streams; the account must run the new one."""
    if community_id == was:
        return
    if community_id is not None:
        await load_for(tx.db, community_id, account)
    actor = Actor.account(account.id)
    if was is not None:
        await tx.emit(
            Stream.community(was), catalogue.CommunitySessionRemoved(community_id=was, session_id=session.id), actor
        )
    if community_id is not None:
        await tx.emit(
            Stream.community(community_id),
            catalogue.CommunitySessionAdded(community_id=community_id, session_id=session.id),
            actor,
        )


# --- the community's page ------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    session: LabSession
    participants: int
    returning: int
    notes: int


@dataclass(frozen=True)
class OutcomeRow:
    outcome: Outcome
    follow_ups: int
    answered: int
    overdue: int
    next_due: date | None


@dataclass(frozen=True)
class MemberRow:
    member: Member
    sessions: int
    first_at: datetime | None
    last_at: datetime | None


def _as(row: Callable[..., R], found: Page[Any]) -> Page[R]:
    return Page([row(*values) for values in found.items], found.number, found.size, found.total)


def _sessions_of(community_id: int) -> Select[Any]:
    return select(LabSession.id).where(LabSession.community_id == community_id)


def _session_when() -> Any:
    return func.coalesce(LabSession.starts_at, LabSession.created_at)


async def timeline(rt: Runtime, community_id: int, page: Any = 1, per_page: Any = None) -> Page[TimelineRow]:
    """The community's sessions in the order they met, each with who came and who came back
    (a member counts as returning from their second session on)."""
    people = select(func.count()).where(Participant.session_id == LabSession.id).scalar_subquery()
    notes = (
        select(func.count())
        .where(
            Note.session_id == LabSession.id,
            Note.deleted.is_(False),
            Note.hidden.is_(False),
            Note.approval == NoteApproval.approved,
        )
        .scalar_subquery()
    )
    # When each member first came; in a later session they count as coming back.
    first = (
        select(Participant.member_id, func.min(_session_when()).label("at"))
        .join(LabSession, LabSession.id == Participant.session_id)
        .where(LabSession.community_id == community_id, Participant.member_id.is_not(None))
        .group_by(Participant.member_id)
        .subquery()
    )
    returning = (
        select(func.count(distinct(Participant.member_id)))
        .join(first, first.c.member_id == Participant.member_id)
        .where(Participant.session_id == LabSession.id, first.c.at < _session_when())
        .scalar_subquery()
    )
    query = (
        select(LabSession, people, returning, notes)
        .where(LabSession.community_id == community_id)
        .order_by(_session_when(), LabSession.id)
    )
    async with rt.db.read() as db:
        found = await paging.fetch(db, query, page, per_page)
    return _as(TimelineRow, found)


async def shared_cases(
    rt: Runtime, community_id: int, page: Any = 1, per_page: Any = None
) -> Page[tuple[CaseShare, Case, LabSession]]:
    query = (
        select(CaseShare, Case, LabSession)
        .join(Case, Case.id == CaseShare.case_id)
        .join(LabSession, LabSession.id == CaseShare.session_id)
        .where(LabSession.community_id == community_id)
        .order_by(CaseShare.shared_at, CaseShare.id)
    )
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page, per_page)


async def outcomes(
    rt: Runtime, community_id: int, page: Any = 1, per_page: Any = None, today: date | None = None
) -> Page[OutcomeRow]:
    """Outcomes of the community (its own and its sessions'), each with where its follow-ups stand."""
    today = today or datetime.now(UTC).date()
    of = FollowUp.outcome_id == Outcome.id
    total = select(func.count()).where(of).scalar_subquery()
    answered = select(func.count()).where(of, FollowUp.status == FollowUpStatus.answered).scalar_subquery()
    planned = (of, FollowUp.status == FollowUpStatus.planned)
    overdue = select(func.count()).where(*planned, FollowUp.due_on < today).scalar_subquery()
    next_due = select(func.min(FollowUp.due_on)).where(*planned).scalar_subquery()
    query = (
        select(Outcome, total, answered, overdue, next_due)
        .where(or_(Outcome.community_id == community_id, Outcome.session_id.in_(_sessions_of(community_id))))
        .order_by(Outcome.created_at, Outcome.id)
    )
    async with rt.db.read() as db:
        found = await paging.fetch(db, query, page, per_page)
    return _as(OutcomeRow, found)


async def members(
    rt: Runtime, community_id: int, page: Any = 1, *, returning: bool = False, per_page: Any = None
) -> Page[MemberRow]:
    """Members (merged ones left out) with the number of sessions they came to, most first;
    `returning` keeps those who came to two or more."""
    came = func.count(distinct(Participant.session_id))
    when = func.coalesce(LabSession.starts_at, LabSession.created_at)
    query = (
        select(Member, came, func.min(when), func.max(when))
        .outerjoin(Participant, Participant.member_id == Member.id)
        .outerjoin(LabSession, LabSession.id == Participant.session_id)
        .where(Member.community_id == community_id, Member.merged_into_id.is_(None))
        .group_by(Member.id)
        .order_by(came.desc(), Member.display_name, Member.id)
    )
    if returning:
        query = query.having(came >= 2)
    async with rt.db.read() as db:
        found = await paging.fetch(db, query, page, per_page)
    return _as(MemberRow, found)


async def summary(rt: Runtime, community_id: int) -> dict[str, int]:
    async with rt.db.read() as db:
        sessions = int(await db.scalar(select(func.count()).select_from(_sessions_of(community_id).subquery())) or 0)
        people = int(
            await db.scalar(
                select(func.count()).where(Member.community_id == community_id, Member.merged_into_id.is_(None))
            )
            or 0
        )
    back = await members(rt, community_id, returning=True, per_page=1)
    return {"sessions": sessions, "members": people, "returning": back.total}
