"""Experiments and the learning log of a living lab: a hypothesis tied to a "leads to" link of its
Theory of Change, actions with owners and due dates (each an outcome of the lab with a check-in on
its due date: the owner answers through its private link, the facilitator sees it due or overdue
in /followups, the answers are the learning log), the sessions that belong to it, and an
evaluation in the shape of the lab's protocol (what was tried, what worked, what didn't, for whom,
in which context, why, with evidence). A finished experiment can become a case in the library.
Every change is an event on the lab's (community's) stream."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    Experiment,
    ExperimentResult,
    ExperimentSession,
    ExperimentStatus,
    FollowUp,
    LabSession,
    Outcome,
    OutcomeKind,
    TocLink,
    TocNode,
)
from labs.runtime import Runtime
from labs.services import cases, followups, outcomes
from labs.services.toc import lab_for, load_lab

MAX_TEXT = 5000
EVALUATION = ("tried", "worked", "did_not_work", "for_whom", "context", "why", "evidence")


@dataclass
class Action:
    """An action: the outcome that holds its owner and due date, and its check-in."""

    outcome: Outcome
    check_in: FollowUp

    @property
    def state(self) -> str:
        return followups.state_of(self.check_in)


@dataclass
class Log:
    """One experiment with everything that belongs to it; `answers` is the learning log: every
    answer the actions' owners gave, oldest first (with the action's title)."""

    experiment: Experiment
    link: tuple[TocNode, TocNode] | None = None
    actions: list[Action] = field(default_factory=list)
    sessions: list[LabSession] = field(default_factory=list)
    case: Case | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)


def experiment_data(e: Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "title": e.title,
        "hypothesis": e.hypothesis,
        "link_id": e.link_id,
        "topics": list(e.topics),
        "sdgs": list(e.sdgs),
        "status": e.status.value,
    }


# --- reading -------------------------------------------------------------------------------


async def _experiment(db: AsyncSession, lab_id: int, experiment_id: Any) -> Experiment:
    found = await db.get(Experiment, validate.integer(experiment_id, "experiment_id"))
    if found is None or found.community_id != lab_id:
        raise NotFound("No such experiment in this living lab.")
    return found


async def _log(db: AsyncSession, e: Experiment) -> Log:
    log = Log(e)
    if e.link_id is not None:
        link = await db.get(TocLink, e.link_id)
        if link is not None:
            a, b = await db.get(TocNode, link.from_id), await db.get(TocNode, link.to_id)
            log.link = (a, b) if a and b else None
    found = await db.execute(
        select(Outcome, FollowUp)
        .join(FollowUp, FollowUp.outcome_id == Outcome.id)
        .where(Outcome.experiment_id == e.id)
        .order_by(Outcome.due_on, Outcome.id, FollowUp.due_on, FollowUp.id)
    )
    seen: set[int] = set()
    for outcome, check_in in found.all():
        if outcome.id not in seen:  # an action's first check-in is the one on its due date
            seen.add(outcome.id)
            log.actions.append(Action(outcome, check_in))
    titles = {a.outcome.id: a.outcome.title for a in log.actions}
    given = await followups.answers_of(db, list(titles))
    log.answers = sorted(({**a, "action": titles[a["outcome_id"]]} for a in given), key=lambda a: a["at"])
    log.sessions = list(
        (
            await db.scalars(
                select(LabSession)
                .join(ExperimentSession, ExperimentSession.session_id == LabSession.id)
                .where(ExperimentSession.experiment_id == e.id)
                .order_by(LabSession.starts_at.nulls_last(), LabSession.id)
            )
        ).all()
    )
    log.case = await db.get(Case, e.case_id) if e.case_id else None
    return log


async def logs(rt: Runtime, lab_id: int) -> list[Log]:
    async with rt.db.read() as db:
        await load_lab(db, lab_id)
        found = await db.scalars(
            select(Experiment).where(Experiment.community_id == lab_id).order_by(Experiment.id.desc())
        )
        return [await _log(db, e) for e in found.all()]


async def get_log(rt: Runtime, lab_id: int, experiment_id: int) -> Log:
    async with rt.db.read() as db:
        await load_lab(db, lab_id)
        return await _log(db, await _experiment(db, lab_id, experiment_id))


async def lab_sessions(rt: Runtime, lab_id: int) -> list[LabSession]:
    async with rt.db.read() as db:
        found = await db.scalars(
            select(LabSession)
            .where(LabSession.community_id == lab_id)
            .order_by(LabSession.starts_at.desc().nulls_last())
        )
        return list(found.all())


# --- changes -------------------------------------------------------------------------------


async def _fields(db: AsyncSession, lab_id: int, data: dict[str, Any]) -> dict[str, Any]:
    link_id = None
    if data.get("link_id") not in (None, ""):
        link = await db.get(TocLink, validate.integer(data["link_id"], "link_id"))
        if link is None or link.community_id != lab_id:
            raise NotFound("No such link in this Theory of Change.", {"link_id": "Choose a link of this lab."})
        link_id = link.id
    return {
        "title": validate.text(data.get("title"), "title", N_("The title"), 200, required=True),
        "hypothesis": validate.text(
            data.get("hypothesis"), "hypothesis", N_("The hypothesis"), MAX_TEXT, required=True
        ),
        "link_id": link_id,
        "topics": cases._topics(data.get("topics")),
        "sdgs": cases._sdgs(data.get("sdgs")),
    }


def _payload(cls: type[catalogue.ExperimentFields], e: Experiment) -> catalogue.ExperimentFields:
    return cls(community_id=e.community_id, **experiment_data(e))


async def plan(rt: Runtime, account: Account, lab_id: int, data: dict[str, Any]) -> Experiment:
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = Experiment(community_id=lab_id, created_by_id=account.id, **await _fields(tx.db, lab_id, data))
        tx.db.add(e)
        await tx.db.flush()
        await tx.emit(Stream.community(lab_id), _payload(catalogue.ExperimentPlanned, e), Actor.account(account.id))
    return e


async def update(rt: Runtime, account: Account, lab_id: int, experiment_id: int, data: dict[str, Any]) -> Experiment:
    """The plan (title, hypothesis, link, topics, SDGs) and the status: planned or running. An
    experiment is finished by its evaluation."""
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        fields = await _fields(tx.db, lab_id, data)
        status = validate.choice(ExperimentStatus, data.get("status") or e.status.value, "status")
        if status is ExperimentStatus.finished and e.status is not ExperimentStatus.finished:
            raise Invalid("An experiment is finished by its evaluation.", {"status": "Evaluate it to finish it."})
        if e.status is ExperimentStatus.finished and status is not ExperimentStatus.finished:
            raise Conflict("This experiment is finished and evaluated.", {"status": "It is finished."})
        for key, value in {**fields, "status": status}.items():
            setattr(e, key, value)
        await tx.emit(Stream.community(lab_id), _payload(catalogue.ExperimentUpdated, e), Actor.account(account.id))
    return e


async def add_action(rt: Runtime, account: Account, lab_id: int, experiment_id: int, data: dict[str, Any]) -> Action:
    """An action with its owner and due date: an outcome of the lab, linked to the experiment, with
    one check-in on the due date; its private link goes to the owner (`labs followups send` mails it
    when the owner's email is known)."""
    title = validate.text(data.get("title"), "title", N_("The action"), 200, required=True)
    owner = validate.text(data.get("owner"), "owner", N_("The owner"), 120, required=True)
    email = validate.email(data.get("owner_email"), "owner_email", N_("The owner's email"))
    due_on: date = validate.day(data.get("due_on"), "due_on", N_("The due date"), required=True)  # type: ignore[assignment]
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        outcome = Outcome(
            community_id=lab_id,
            experiment_id=e.id,
            kind=OutcomeKind.other,
            title=title,
            owner_name=owner,
            owner_email=email,
            due_on=due_on,
            created_by_id=account.id,
        )
        (check_in,) = await outcomes.add_outcome(tx, rt, account, outcome, [due_on])
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentActionAdded(
                community_id=lab_id,
                experiment_id=e.id,
                outcome_id=outcome.id,
                follow_up_id=check_in.id,
                title=title,
                due_on=due_on.isoformat(),
            ),
            Actor.account(account.id),
        )
    return Action(outcome, check_in)


async def link_session(rt: Runtime, account: Account, lab_id: int, experiment_id: int, session_id: Any) -> None:
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        session = await tx.db.get(LabSession, validate.integer(session_id, "session_id"))
        if session is None or session.community_id != lab_id:
            raise NotFound("No such session in this living lab.", {"session_id": "Choose a session of this lab."})
        if await tx.db.get(ExperimentSession, (e.id, session.id)) is not None:
            raise Conflict("This session already belongs to the experiment.", {"session_id": "Already linked."})
        tx.db.add(ExperimentSession(experiment_id=e.id, session_id=session.id))
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentSessionLinked(community_id=lab_id, experiment_id=e.id, session_id=session.id),
            Actor.account(account.id),
        )


async def evaluate(rt: Runtime, account: Account, lab_id: int, experiment_id: int, data: dict[str, Any]) -> Experiment:
    """The evaluation after the lab's protocol; it finishes the experiment (and may be revised)."""
    labels = {
        "tried": N_("What was tried"),
        "worked": N_("What worked"),
        "did_not_work": N_("What did not work"),
        "for_whom": N_("For whom"),
        "context": N_("In which context"),
        "why": N_("Why"),
        "evidence": N_("The evidence"),
    }
    required = {"tried", "why", "evidence"}
    fields = {k: validate.text(data.get(k), k, labels[k], MAX_TEXT, required=k in required) for k in EVALUATION}
    result = validate.choice(ExperimentResult, data.get("result"), "result")
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        for key, value in fields.items():
            setattr(e, key, value)
        e.result, e.status = result, ExperimentStatus.finished
        e.finished_at = e.finished_at or datetime.now(UTC)
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentEvaluated(community_id=lab_id, experiment_id=e.id, result=result.value, **fields),
            Actor.account(account.id),
        )
    return e


async def to_case(rt: Runtime, account: Account, lab_id: int, experiment_id: int, data: dict[str, Any]) -> Case:
    """A finished experiment as a case in the library, prefilled from its evaluation; the case, the
    experiment's link to it and both events are one change."""
    async with events.change(rt) as tx:
        lab = await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        if e.status is not ExperimentStatus.finished:
            raise Conflict("Evaluate the experiment first: only a finished experiment becomes a case.")
        if e.case_id is not None:
            raise Conflict("This experiment is already a case in the library.")
        fields = cases.check_fields(
            {
                "title": data.get("title") or e.title,
                "summary": "\n\n".join(part for part in (e.hypothesis, e.tried, e.why) if part),
                "city": data.get("city") or lab.city,
                "country": data.get("country") or "NL",
                "sdgs": e.sdgs,
                "topics": e.topics,
                "stage": "pilot",
                "boosters": e.worked,
                "barriers": e.did_not_work,
                "organisation": lab.name,
            }
        )
        case = await cases.add_case(tx, account, fields)
        e.case_id = case.id
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentCaseMade(community_id=lab_id, experiment_id=e.id, case_id=case.id),
            Actor.account(account.id),
        )
    return case
