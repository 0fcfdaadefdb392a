"""Outcomes, recorded the outcome-harvesting way: what changed, the social actor who changed, the
change agent, when and where, why it matters, how the session contributed, and the
substantiation (evidence, who verified it and when); traced to the notes, clusters and cases they
came from. A commitment or action has an owner and a due date; the owner answers the check-ins
that every outcome gets, by default 1, 3 and 6 months after its session. This module plans them
(schedule, move, cancel); labs.services.followups is the owner's side and the facilitator's list.

Every change goes on the outcome's own event stream (`Stream.outcome(id)`)."""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Case,
    Cluster,
    Community,
    FollowUp,
    FollowUpStatus,
    LabSession,
    Note,
    Outcome,
    OutcomeKind,
    OutcomeSource,
    Role,
    SessionFacilitator,
)
from labs.runtime import Runtime
from labs.services import credentials
from labs.services.sessions import can_run
from labs.services.sessions import load_for as session_for

MAX_TITLE = 200
MAX_TEXT = 5000
SOURCE_KINDS = ("note_ids", "cluster_ids", "case_ids")
DEFAULT_MONTHS = (1, 3, 6)
MAX_CHECKINS = 12
# A private link works until this long after its check-in's due date.
LINK_VALID = timedelta(days=180)


# --- shapes --------------------------------------------------------------------------------


def _sources_of(rows: Iterable[OutcomeSource]) -> dict[str, list[int]]:
    rows = list(rows)
    return {
        "note_ids": [s.note_id for s in rows if s.note_id is not None],
        "cluster_ids": [s.cluster_id for s in rows if s.cluster_id is not None],
        "case_ids": [s.case_id for s in rows if s.case_id is not None],
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def payload_fields(outcome: Outcome, sources: Iterable[OutcomeSource]) -> dict[str, Any]:
    """The outcome as its events carry it: the record without the people's names and emails
    (owner, verifier), which stay in the table."""
    return {
        "id": outcome.id,
        "session_id": outcome.session_id,
        "community_id": outcome.community_id,
        "kind": outcome.kind.value,
        "title": outcome.title,
        "what_changed": outcome.what_changed,
        "who": outcome.who,
        "change_agent": outcome.change_agent,
        "when_on": _iso(outcome.when_on),
        "where": outcome.where,
        "significance": outcome.significance,
        "contribution": outcome.contribution,
        "evidence": outcome.evidence,
        "verified_on": _iso(outcome.verified_on),
        "has_owner": bool(outcome.owner_name),
        "due_on": _iso(outcome.due_on),
        "sources": catalogue.OutcomeSources(**_sources_of(sources)),
        "experiment_id": outcome.experiment_id,
    }


def outcome_data(
    outcome: Outcome, sources: Iterable[OutcomeSource], checkins: Iterable[FollowUp] = ()
) -> dict[str, Any]:
    """The API's shape: the whole record, owner and verifier included (staff only)."""
    data = payload_fields(outcome, sources)
    data.pop("has_owner")
    data["sources"] = msgspec.to_builtins(data["sources"])
    data.update(
        verified_by=outcome.verified_by,
        owner={"name": outcome.owner_name, "email": outcome.owner_email} if outcome.owner_name else None,
        created_at=outcome.created_at.isoformat(),
        updated_at=outcome.updated_at.isoformat(),
        follow_ups=[follow_up_data(f) for f in checkins],
    )
    return data


def follow_up_data(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": follow_up.id,
        "outcome_id": follow_up.outcome_id,
        "due_on": follow_up.due_on.isoformat(),
        "status": follow_up.status.value,
        "sent_at": follow_up.sent_at.isoformat() if follow_up.sent_at else None,
        "answers": follow_up.answers,
        "answered_at": follow_up.done_at.isoformat() if follow_up.done_at else None,
        "progress": follow_up.progress.value if follow_up.progress else None,
        "what_was_done": follow_up.findings,
        "evidence": follow_up.evidence,
        "adopting_city": follow_up.adopting_city,
        "adaptations": follow_up.adaptations,
    }


# --- validation ----------------------------------------------------------------------------


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": validate.choice(OutcomeKind, data.get("kind"), "kind"),
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "what_changed": validate.text(
            data.get("what_changed"), "what_changed", N_("What changed"), MAX_TEXT, required=True
        ),
        "who": validate.text(data.get("who"), "who", N_("Who changed"), 200),
        "change_agent": validate.text(data.get("change_agent"), "change_agent", N_("The change agent"), 200),
        "when_on": validate.day(data.get("when_on"), "when_on", N_("When it happened")),
        "where": validate.text(data.get("where"), "where", N_("Where"), 120) or None,
        "significance": validate.text(data.get("significance"), "significance", N_("The significance"), MAX_TEXT),
        "contribution": validate.text(data.get("contribution"), "contribution", N_("The contribution"), MAX_TEXT),
        "evidence": validate.text(data.get("evidence"), "evidence", N_("The evidence"), MAX_TEXT),
        "verified_by": validate.text(data.get("verified_by"), "verified_by", N_("Verified by"), 200),
        "verified_on": validate.day(data.get("verified_on"), "verified_on", N_("Verified on")),
        "owner_name": validate.text(data.get("owner_name"), "owner_name", N_("The owner's name"), 120),
        "owner_email": validate.email(data.get("owner_email"), "owner_email", N_("The owner's email")),
        "due_on": validate.day(data.get("due_on"), "due_on", N_("The due date")),
    }
    if fields["owner_email"] and not fields["owner_name"]:
        raise Invalid("Give the owner's name with their email.", {"owner_name": "Who is this? Their name, please."})
    if fields["verified_on"] and not fields["verified_by"]:
        raise Invalid("Say who verified the evidence.", {"verified_by": "Who verified it?"})
    if fields["verified_on"] and fields["verified_on"] > datetime.now(UTC).date():
        raise Invalid("The evidence cannot be verified in the future.", {"verified_on": "Today or earlier."})
    return fields


def _not_before(day: date | None, field: str, start: date) -> None:
    """Dates in an outcome's record follow its session: nothing is due or verified before it."""
    if day is not None and day < start:
        raise Invalid(
            "That date is before the session (%(day)s).",
            {field: "On or after %(day)s, the day of the session."},
            day=start.isoformat(),
        )


def _ids(value: Any, field: str) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, (str, int)):
        value = [value]
    ids: list[int] = []
    for item in value:
        if item in ("", None):
            continue
        number = validate.integer(item, field)
        if number not in ids:
            ids.append(number)
    return ids


def _sources(sources: Mapping[str, Any] | None, data: Mapping[str, Any]) -> dict[str, list[int]]:
    given = sources if sources is not None else {k: data.get(k) for k in SOURCE_KINDS}
    unknown = set(given) - set(SOURCE_KINDS)
    if unknown:
        raise Invalid(
            "Unknown source %(name)r; sources are note_ids, cluster_ids and case_ids.", name=sorted(unknown)[0]
        )
    return {kind: _ids(given.get(kind), kind) for kind in SOURCE_KINDS}


async def _check_sources(db: AsyncSession, ids: dict[str, list[int]], session_ids: set[int]) -> list[OutcomeSource]:
    """Notes and clusters must come from the outcome's session (or its community's sessions);
    hidden or deleted notes stay out of the record."""
    rows: list[OutcomeSource] = []
    for note_id in ids["note_ids"]:
        note = await db.get(Note, note_id)
        if note is None or note.session_id not in session_ids or note.deleted:
            raise Invalid("Note %(id)s is not a note of this session.", {"note_ids": "Unknown note."}, id=note_id)
        if note.hidden:
            raise Invalid(
                "Note %(id)s was hidden by a facilitator; it cannot be a source.",
                {"note_ids": "Hidden note."},
                id=note_id,
            )
        rows.append(OutcomeSource(note_id=note_id))
    for cluster_id in ids["cluster_ids"]:
        cluster = await db.get(Cluster, cluster_id)
        if cluster is None or cluster.session_id not in session_ids:
            raise Invalid(
                "Cluster %(id)s is not a cluster of this session.", {"cluster_ids": "Unknown cluster."}, id=cluster_id
            )
        rows.append(OutcomeSource(cluster_id=cluster_id))
    for case_id in ids["case_ids"]:
        if await db.get(Case, case_id) is None:
            raise Invalid("There is no case %(id)s.", {"case_ids": "Unknown case."}, id=case_id)
        rows.append(OutcomeSource(case_id=case_id))
    return rows


# --- access --------------------------------------------------------------------------------


async def may_change(db: AsyncSession, account: Account, outcome: Outcome) -> None:
    """Admins, whoever recorded it, and the facilitators of its session; for a community-level
    outcome also facilitators and researchers. Others get 404: ids don't leak."""
    if account.role is Role.admin or outcome.created_by_id == account.id:
        return
    if outcome.session_id is not None:
        if account.role is Role.facilitator and await can_run(db, outcome.session_id, account):
            return
    elif account.role in (Role.facilitator, Role.researcher):
        return
    raise NotFound("No such outcome.")


async def load(db: AsyncSession, outcome_id: Any) -> Outcome:
    outcome = await db.get(Outcome, validate.integer(outcome_id, "outcome_id"))
    if outcome is None:
        raise NotFound("No such outcome.")
    return outcome


async def load_for(db: AsyncSession, outcome_id: Any, account: Account) -> Outcome:
    outcome = await load(db, outcome_id)
    await may_change(db, account, outcome)
    return outcome


def visible_to(account: Account) -> Any:
    """Outcomes an account may see in lists: the same rule as may_change, as a filter."""
    if account.role is Role.admin:
        return None
    runs = select(SessionFacilitator.session_id).where(SessionFacilitator.account_id == account.id)
    rules = [Outcome.created_by_id == account.id, Outcome.session_id.in_(runs)]
    if account.role in (Role.facilitator, Role.researcher):
        rules.append(Outcome.session_id.is_(None))
    return or_(*rules)


async def source_rows(db: AsyncSession, outcome_id: int) -> list[OutcomeSource]:
    rows = await db.scalars(
        select(OutcomeSource).where(OutcomeSource.outcome_id == outcome_id).order_by(OutcomeSource.id)
    )
    return list(rows.all())


async def _session_ids(db: AsyncSession, outcome: Outcome) -> set[int]:
    if outcome.session_id is not None:
        return {outcome.session_id}
    return set((await db.scalars(select(LabSession.id).where(LabSession.community_id == outcome.community_id))).all())


def _apply(outcome: Outcome, fields: dict[str, Any], start: date) -> None:
    _not_before(fields["due_on"], "due_on", start)
    _not_before(fields["verified_on"], "verified_on", start)
    for key, value in fields.items():
        setattr(outcome, key, value)


# --- changes -------------------------------------------------------------------------------


async def record_outcome(
    rt: Runtime,
    account: Account,
    session_id: int | None,
    data: Mapping[str, Any],
    sources: Mapping[str, Any] | None = None,
) -> Outcome:
    """Record what a session (or, with session_id None and data["community_id"], a community)
    led to, with its check-ins: data["follow_up_months"] ("1, 3, 6" or a list; the default) after
    the session. sources: {"note_ids": [...], "cluster_ids": [...], "case_ids": [...]}; when
    None, these keys are read from data."""
    fields = _fields(data)
    ids = _sources(sources, data)
    plan = months(data.get("follow_up_months"))
    async with events.change(rt) as tx:
        if session_id not in (None, ""):
            session = await session_for(tx.db, validate.integer(session_id, "session_id"), account)
            own_session: int | None = session.id
            community_id = session.community_id
            session_ids = {session.id}
            start = session_day(session)
        else:
            if account.role not in (Role.admin, Role.facilitator, Role.researcher):
                raise NotFound("No such community.")
            if data.get("community_id") in (None, ""):
                raise Invalid(
                    "An outcome belongs to a session or to a community; give one of them.",
                    {"community_id": "Choose the community."},
                )
            community = await tx.db.get(Community, validate.integer(data["community_id"], "community_id"))
            if community is None:
                raise NotFound("No such community.")
            own_session, community_id = None, community.id
            session_ids = set(
                (await tx.db.scalars(select(LabSession.id).where(LabSession.community_id == community.id))).all()
            )
            start = datetime.now(UTC).date()
        rows = await _check_sources(tx.db, ids, session_ids)
        outcome = Outcome(session_id=own_session, community_id=community_id, created_by_id=account.id)
        _apply(outcome, fields, start)
        await add_outcome(tx, rt, account, outcome, [add_months(start, n) for n in plan], rows)
    return outcome


async def add_outcome(
    tx: events.Change,
    rt: Runtime,
    account: Account,
    outcome: Outcome,
    check_ins: Iterable[date],
    rows: Iterable[OutcomeSource] = (),
) -> list[FollowUp]:
    """Inside a change: a checked outcome with its sources and its check-ins (each with its private
    link), every step an event on the outcome's stream. Also for a caller whose own change records
    one (an experiment's action)."""
    tx.db.add(outcome)
    await tx.db.flush()
    rows = list(rows)
    for row in rows:
        row.outcome_id = outcome.id
        tx.db.add(row)
    await tx.db.flush()
    actor = Actor.account(account.id)
    await tx.emit(Stream.outcome(outcome.id), catalogue.OutcomeRecorded(**payload_fields(outcome, rows)), actor)
    return [await _add_check_in(tx, rt, outcome, day, actor) for day in check_ins]


async def update_outcome(
    rt: Runtime,
    account: Account,
    outcome_id: int,
    data: Mapping[str, Any],
    sources: Mapping[str, Any] | None = None,
) -> Outcome:
    """Change an outcome's record and its sources (all fields at once, as the form sends them)."""
    fields = _fields(data)
    ids = _sources(sources, data)
    async with events.change(rt) as tx:
        outcome = await load_for(tx.db, outcome_id, account)
        rows = await _check_sources(tx.db, ids, await _session_ids(tx.db, outcome))
        _apply(outcome, fields, await start_of(tx.db, outcome))
        outcome.updated_at = datetime.now(UTC)
        await tx.db.execute(delete(OutcomeSource).where(OutcomeSource.outcome_id == outcome.id))
        for row in rows:
            row.outcome_id = outcome.id
            tx.db.add(row)
        await tx.db.flush()
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.OutcomeUpdated(**payload_fields(outcome, rows)),
            Actor.account(account.id),
        )
    return outcome


# --- reading -------------------------------------------------------------------------------


@dataclass
class OutcomeView:
    """An outcome with what it came from and its check-ins, for its page and the API."""

    outcome: Outcome
    sources: list[OutcomeSource]
    notes: list[Note]
    clusters: list[Cluster]
    cases: list[Case]
    follow_ups: list[FollowUp]
    session: LabSession | None
    derived: list[Case]  # cases this outcome became (an adopted practice)


async def view(rt: Runtime, account: Account, outcome_id: Any) -> OutcomeView:
    async with rt.db.read() as db:
        outcome = await load_for(db, outcome_id, account)
        rows = await source_rows(db, outcome.id)
        ids = _sources_of(rows)
        return OutcomeView(
            outcome=outcome,
            sources=rows,
            notes=list((await db.scalars(select(Note).where(Note.id.in_(ids["note_ids"])).order_by(Note.id))).all()),
            clusters=list(
                (await db.scalars(select(Cluster).where(Cluster.id.in_(ids["cluster_ids"])).order_by(Cluster.id))).all()
            ),
            cases=list((await db.scalars(select(Case).where(Case.id.in_(ids["case_ids"])).order_by(Case.id))).all()),
            follow_ups=await of_outcome(db, outcome.id),
            session=await db.get(LabSession, outcome.session_id) if outcome.session_id else None,
            derived=list((await db.scalars(select(Case).where(Case.from_outcome_id == outcome.id))).all()),
        )


async def list_outcomes(
    rt: Runtime, account: Account, *, session_id: Any = None, page: Any = 1, per_page: Any = None
) -> paging.Page[Outcome]:
    """Outcomes the account may see, newest first (of one session, when given)."""
    query = select(Outcome).order_by(Outcome.created_at.desc(), Outcome.id.desc())
    if (rule := visible_to(account)) is not None:
        query = query.where(rule)
    if session_id not in (None, ""):
        query = query.where(Outcome.session_id == validate.integer(session_id, "session_id"))
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page, per_page)


async def of_session(rt: Runtime, session_id: int) -> list[Outcome]:
    async with rt.db.read() as db:
        rows = await db.scalars(select(Outcome).where(Outcome.session_id == session_id).order_by(Outcome.id))
        return list(rows.all())


# --- check-ins: when they are due ----------------------------------------------------------


def session_day(session: LabSession) -> date:
    """The day a session took place (or will): check-ins and due dates count from it."""
    when = session.started_at or session.starts_at or session.created_at
    return when.date()


async def start_of(db: AsyncSession, outcome: Outcome) -> date:
    if outcome.session_id is not None and (session := await db.get(LabSession, outcome.session_id)):
        return session_day(session)
    return outcome.created_at.date()


def add_months(day: date, n: int) -> date:
    month = day.month - 1 + n
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months(value: Any) -> list[int]:
    """Check-ins as months after the session: "1, 3, 6" (the default when empty) or a list."""
    if value is None:
        return list(DEFAULT_MONTHS)
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",") if part.strip()]
    plan: list[int] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        try:
            n = int(str(item).strip())
        except ValueError:
            n = 0
        if not 1 <= n <= 36:
            raise Invalid(
                "Check-ins are whole months after the session, from 1 to 36 (e.g. 1, 3, 6).",
                {"follow_up_months": "Whole months from 1 to 36, e.g. 1, 3, 6."},
            )
        if n not in plan:
            plan.append(n)
    if len(plan) > MAX_CHECKINS:
        raise Invalid("At most %(n)s check-ins.", {"follow_up_months": "At most %(n)s check-ins."}, n=MAX_CHECKINS)
    return sorted(plan)


def link_expires(follow_up: FollowUp) -> date:
    return follow_up.due_on + LINK_VALID


def token_of(rt: Runtime, follow_up: FollowUp) -> str:
    assert follow_up.token_nonce is not None
    return credentials.follow_up_token(rt.settings.secret_key, follow_up.token_nonce)


async def of_outcome(db: AsyncSession, outcome_id: int) -> list[FollowUp]:
    rows = await db.scalars(select(FollowUp).where(FollowUp.outcome_id == outcome_id).order_by(FollowUp.due_on))
    return list(rows.all())


async def _add_check_in(tx: events.Change, rt: Runtime, outcome: Outcome, due_on: date, actor: Actor) -> FollowUp:
    nonce = secrets.token_hex(16)
    follow_up = FollowUp(outcome_id=outcome.id, due_on=due_on, token_nonce=nonce)
    follow_up.token_hash = credentials.token_digest(credentials.follow_up_token(rt.settings.secret_key, nonce))
    tx.db.add(follow_up)
    await tx.db.flush()
    await tx.emit(
        Stream.outcome(outcome.id),
        catalogue.FollowUpScheduled(id=follow_up.id, outcome_id=outcome.id, due_on=due_on.isoformat()),
        actor,
    )
    return follow_up


async def _check_in_day(db: AsyncSession, outcome: Outcome, value: Any) -> date:
    day = validate.day(value, "due_on", N_("The check-in date"), required=True)
    assert day is not None
    _not_before(day, "due_on", await start_of(db, outcome))
    return day


async def schedule_follow_up(rt: Runtime, account: Account, outcome_id: Any, due_on: Any) -> FollowUp:
    """One more check-in on an outcome, on `due_on` (not before its session)."""
    async with events.change(rt) as tx:
        outcome = await load_for(tx.db, outcome_id, account)
        day = await _check_in_day(tx.db, outcome, due_on)
        if len(await of_outcome(tx.db, outcome.id)) >= MAX_CHECKINS:
            raise Invalid("At most %(n)s check-ins.", {"due_on": "At most %(n)s check-ins."}, n=MAX_CHECKINS)
        return await _add_check_in(tx, rt, outcome, day, Actor.account(account.id))


async def _own_follow_up(db: AsyncSession, account: Account, follow_up_id: Any) -> tuple[FollowUp, Outcome]:
    follow_up = await db.get(FollowUp, validate.integer(follow_up_id, "follow_up_id"))
    if follow_up is None:
        raise NotFound("No such follow-up.")
    try:
        outcome = await load_for(db, follow_up.outcome_id, account)
    except NotFound:
        raise NotFound("No such follow-up.") from None
    return follow_up, outcome


async def reschedule_follow_up(rt: Runtime, account: Account, follow_up_id: Any, due_on: Any) -> FollowUp:
    """Move a check-in that is still waiting to another day; its link stays the same."""
    async with events.change(rt) as tx:
        follow_up, outcome = await _own_follow_up(tx.db, account, follow_up_id)
        if follow_up.status is FollowUpStatus.cancelled:
            raise Conflict("This check-in was cancelled.")
        day = await _check_in_day(tx.db, outcome, due_on)
        previous, follow_up.due_on = follow_up.due_on, day
        follow_up.sent_at = None if day > previous else follow_up.sent_at  # a later date is sent again then
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.FollowUpRescheduled(
                id=follow_up.id, outcome_id=outcome.id, due_on=day.isoformat(), previous_due_on=previous.isoformat()
            ),
            Actor.account(account.id),
        )
    return follow_up


async def cancel_follow_up(rt: Runtime, account: Account, follow_up_id: Any) -> FollowUp:
    """Call a check-in off: its link stops working; answers it had stay in the log."""
    async with events.change(rt) as tx:
        follow_up, outcome = await _own_follow_up(tx.db, account, follow_up_id)
        if follow_up.status is FollowUpStatus.cancelled:
            return follow_up
        follow_up.status = FollowUpStatus.cancelled
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.FollowUpCancelled(id=follow_up.id, outcome_id=outcome.id),
            Actor.account(account.id),
        )
    return follow_up
