"""Outcomes, recorded the outcome-harvesting way (who changed what, when and where, why it
matters, how the session contributed, and the evidence), traced to the notes, clusters and cases
they came from; and the follow-ups that check later whether they were carried out.

An outcome of a session goes into that session's event log ("outcome.recorded", and its
follow-ups as "follow_up.planned" / "follow_up.completed"). A community-level outcome (no session)
has no log to go into."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, validate
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
)
from labs.runtime import Runtime
from labs.services.sessions import can_run, load_for

MAX_TITLE = 200
MAX_TEXT = 5000
SOURCE_KINDS = ("note_ids", "cluster_ids", "case_ids")


# --- shapes --------------------------------------------------------------------------------


def outcome_data(outcome: Outcome, sources: Iterable[OutcomeSource] = ()) -> dict[str, Any]:
    sources = list(sources)
    return {
        "id": outcome.id,
        "session_id": outcome.session_id,
        "community_id": outcome.community_id,
        "kind": outcome.kind.value,
        "title": outcome.title,
        "what_changed": outcome.what_changed,
        "who": outcome.who,
        "when_on": outcome.when_on.isoformat() if outcome.when_on else None,
        "where": outcome.where,
        "significance": outcome.significance,
        "contribution": outcome.contribution,
        "evidence": outcome.evidence,
        "sources": {
            "note_ids": [s.note_id for s in sources if s.note_id is not None],
            "cluster_ids": [s.cluster_id for s in sources if s.cluster_id is not None],
            "case_ids": [s.case_id for s in sources if s.case_id is not None],
        },
    }


def follow_up_data(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": follow_up.id,
        "outcome_id": follow_up.outcome_id,
        "due_on": follow_up.due_on.isoformat(),
        "status": follow_up.status.value,
        "findings": follow_up.findings,
        "assigned_to_id": follow_up.assigned_to_id,
        "done_at": follow_up.done_at.isoformat() if follow_up.done_at else None,
    }


# --- validation ----------------------------------------------------------------------------


def _date(value: Any, field: str, label: str, *, required: bool = False) -> date | None:
    if value in (None, ""):
        if required:
            raise Invalid(f"{label} is required.", {field: "Give a date (YYYY-MM-DD)."})
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(
            f"{label} must be a date (YYYY-MM-DD), not {value!r}.", {field: "Give a date (YYYY-MM-DD)."}
        ) from None


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    if not data.get("kind"):
        allowed = ", ".join(k.value for k in OutcomeKind)
        raise Invalid(f"Say what kind of outcome this is: {allowed}.", {"kind": f"Choose one of: {allowed}."})
    return {
        "kind": validate.choice(OutcomeKind, data.get("kind"), "kind"),
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "what_changed": validate.text(
            data.get("what_changed"), "what_changed", N_("What changed"), MAX_TEXT, required=True
        ),
        "who": validate.text(data.get("who"), "who", N_("Who changed"), 200),
        "when_on": _date(data.get("when_on"), "when_on", "When it happened"),
        "where": validate.text(data.get("where"), "where", N_("Where"), 120) or None,
        "significance": validate.text(data.get("significance"), "significance", N_("The significance"), MAX_TEXT),
        "contribution": validate.text(data.get("contribution"), "contribution", N_("The contribution"), MAX_TEXT),
        "evidence": validate.text(data.get("evidence"), "evidence", N_("The evidence"), MAX_TEXT),
    }


def _ids(value: Any, field: str) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, (str, int)):
        value = [value]
    ids: list[int] = []
    for item in value:
        try:
            if isinstance(item, bool):
                raise ValueError
            number = int(item)
        except (TypeError, ValueError):
            raise Invalid(f"{field} must be a list of numbers.", {field: "A list of ids."}) from None
        if number not in ids:
            ids.append(number)
    return ids


def _sources(sources: Mapping[str, Any] | None, data: Mapping[str, Any]) -> dict[str, list[int]]:
    given = sources if sources is not None else {k: data.get(k) for k in SOURCE_KINDS}
    unknown = set(given) - set(SOURCE_KINDS)
    if unknown:
        raise Invalid(f"Unknown source {sorted(unknown)[0]!r}; sources are note_ids, cluster_ids and case_ids.")
    return {kind: _ids(given.get(kind), kind) for kind in SOURCE_KINDS}


async def _check_sources(db: AsyncSession, ids: dict[str, list[int]], session_ids: set[int]) -> list[OutcomeSource]:
    """Notes and clusters must come from the outcome's session (or its community's sessions);
    hidden or deleted notes stay out of the record."""
    rows: list[OutcomeSource] = []
    for note_id in ids["note_ids"]:
        note = await db.get(Note, note_id)
        if note is None or note.session_id not in session_ids or note.deleted:
            raise Invalid(f"Note {note_id} is not a note of this session.", {"note_ids": "Unknown note."})
        if note.hidden:
            raise Invalid(
                f"Note {note_id} was hidden by a facilitator; it cannot be a source.",
                {"note_ids": "Hidden note."},
            )
        rows.append(OutcomeSource(note_id=note_id))
    for cluster_id in ids["cluster_ids"]:
        cluster = await db.get(Cluster, cluster_id)
        if cluster is None or cluster.session_id not in session_ids:
            raise Invalid(
                f"Cluster {cluster_id} is not a cluster of this session.", {"cluster_ids": "Unknown cluster."}
            )
        rows.append(OutcomeSource(cluster_id=cluster_id))
    for case_id in ids["case_ids"]:
        if await db.get(Case, case_id) is None:
            raise Invalid(f"There is no case {case_id}.", {"case_ids": "Unknown case."})
        rows.append(OutcomeSource(case_id=case_id))
    return rows


async def _may_change(db: AsyncSession, account: Account, outcome: Outcome) -> None:
    """Admins, whoever recorded it, and the facilitators of its session; for a community-level
    outcome also the community's facilitators and researchers. Others get 404: ids don't leak."""
    if account.role is Role.admin or outcome.created_by_id == account.id:
        return
    if outcome.session_id is not None:
        if account.role is Role.facilitator and await can_run(db, outcome.session_id, account):
            return
    elif account.role in (Role.facilitator, Role.researcher):
        return
    raise NotFound("No such outcome.")


async def _outcome(db: AsyncSession, outcome_id: Any) -> Outcome:
    outcome = await db.get(Outcome, validate.integer(outcome_id, "outcome_id"))
    if outcome is None:
        raise NotFound("No such outcome.")
    return outcome


async def _source_rows(db: AsyncSession, outcome_id: int) -> list[OutcomeSource]:
    rows = await db.scalars(
        select(OutcomeSource).where(OutcomeSource.outcome_id == outcome_id).order_by(OutcomeSource.id)
    )
    return list(rows.all())


# --- changes -------------------------------------------------------------------------------


async def record_outcome(
    rt: Runtime,
    account: Account,
    session_id: int | None,
    data: Mapping[str, Any],
    sources: Mapping[str, Any] | None = None,
) -> Outcome:
    """Record what a session (or, with session_id None and data["community_id"], a community)
    led to. sources: {"note_ids": [...], "cluster_ids": [...], "case_ids": [...]}; when None,
    these keys are read from data."""
    fields = _fields(data)
    ids = _sources(sources, data)
    async with events.change(rt) as tx:
        if session_id is not None:
            session = await load_for(tx.db, validate.integer(session_id, "session_id"), account)
            own_session: int | None = session.id
            community_id = session.community_id
            session_ids = {session.id}
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
        rows = await _check_sources(tx.db, ids, session_ids)
        outcome = Outcome(**fields, session_id=own_session, community_id=community_id, created_by_id=account.id)
        tx.db.add(outcome)
        await tx.db.flush()
        for row in rows:
            row.outcome_id = outcome.id
            tx.db.add(row)
        await tx.db.flush()
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.build(catalogue.OutcomeRecorded, outcome_data(outcome, rows)),
            Actor.account(account.id),
        )
    return outcome


async def add_follow_up(
    rt: Runtime, account: Account, outcome_id: int, due_on: Any, assigned_to_id: int | None = None
) -> FollowUp:
    """Plan a later check on an outcome, optionally assigned to an account (e.g. a researcher)."""
    due = _date(due_on, "due_on", "The due date", required=True)
    assert due is not None
    async with events.change(rt) as tx:
        outcome = await _outcome(tx.db, outcome_id)
        await _may_change(tx.db, account, outcome)
        assignee: int | None = None
        if assigned_to_id not in (None, ""):
            person = await tx.db.get(Account, validate.integer(assigned_to_id, "assigned_to_id"))
            if person is None or not person.active:
                raise Invalid("No active account to assign this follow-up to.", {"assigned_to_id": "Unknown account."})
            assignee = person.id
        follow_up = FollowUp(outcome_id=outcome.id, due_on=due, assigned_to_id=assignee)
        tx.db.add(follow_up)
        await tx.db.flush()
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.build(catalogue.FollowUpPlanned, follow_up_data(follow_up)),
            Actor.account(account.id),
        )
    return follow_up


async def complete_follow_up(
    rt: Runtime, account: Account, follow_up_id: int, findings: str, status: str = "done"
) -> FollowUp:
    """Close a follow-up as done (findings required: what was found) or cancelled (say why, if
    you like). The assignee may do this too."""
    result = validate.choice(FollowUpStatus, status or "done", "status")
    if result is FollowUpStatus.planned:
        raise Invalid("A follow-up is completed as done or cancelled.", {"status": "Choose done or cancelled."})
    text = validate.text(findings, "findings", N_("What you found"), MAX_TEXT, required=result is FollowUpStatus.done)
    async with events.change(rt) as tx:
        follow_up = await tx.db.get(FollowUp, validate.integer(follow_up_id, "follow_up_id"))
        if follow_up is None:
            raise NotFound("No such follow-up.")
        outcome = await _outcome(tx.db, follow_up.outcome_id)
        if follow_up.assigned_to_id != account.id:
            try:
                await _may_change(tx.db, account, outcome)
            except NotFound:
                raise NotFound("No such follow-up.") from None
        if follow_up.status is not FollowUpStatus.planned:
            raise Conflict(f"This follow-up is already {follow_up.status.value}.")
        follow_up.status = result
        follow_up.findings = text
        follow_up.done_at = datetime.now(UTC)
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.build(catalogue.FollowUpCompleted, follow_up_data(follow_up)),
            Actor.account(account.id),
        )
    return follow_up


# --- reading -------------------------------------------------------------------------------


async def get_outcome(rt: Runtime, outcome_id: int) -> Outcome:
    async with rt.db.read() as db:
        return await _outcome(db, outcome_id)


async def sources_of(rt: Runtime, outcome_id: int) -> list[OutcomeSource]:
    async with rt.db.read() as db:
        return await _source_rows(db, outcome_id)


async def list_follow_ups(
    rt: Runtime, *, status: str | None = None, assigned_to_id: int | None = None, due_before: Any = None
) -> list[FollowUp]:
    """Follow-ups by due date: e.g. status="planned" for the to-do list; assigned_to_id for one
    person's."""
    query = select(FollowUp).order_by(FollowUp.due_on, FollowUp.id)
    if status:
        query = query.where(FollowUp.status == validate.choice(FollowUpStatus, status, "status"))
    if assigned_to_id is not None:
        query = query.where(FollowUp.assigned_to_id == assigned_to_id)
    if (before := _date(due_before, "due_before", "The date")) is not None:
        query = query.where(FollowUp.due_on <= before)
    async with rt.db.read() as db:
        return list((await db.scalars(query)).all())
