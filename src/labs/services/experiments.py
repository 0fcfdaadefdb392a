"""Experiments and the learning log of a living lab: a hypothesis tied to a "leads to" link of its
Theory of Change, actions with owners and due dates, the sessions that belong to it, and an
evaluation in the shape of the lab's protocol (what was tried, what worked, what didn't, for whom,
in which context, why, with evidence). A finished experiment can become a case in the library.
Every change is an event on the lab's (community's) stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    ExperimentAction,
    ExperimentResult,
    ExperimentSession,
    ExperimentStatus,
    LabSession,
    TocLink,
    TocNode,
)
from labs.runtime import Runtime
from labs.services import cases
from labs.services.toc import lab_for, load_lab

MAX_TEXT = 5000
EVALUATION = ("tried", "worked", "did_not_work", "for_whom", "context", "why", "evidence")


@dataclass
class Log:
    """One experiment with everything that belongs to it."""

    experiment: Experiment
    link: tuple[TocNode, TocNode] | None = None
    actions: list[ExperimentAction] = field(default_factory=list)
    sessions: list[LabSession] = field(default_factory=list)
    case: Case | None = None


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


def log_data(log: Log) -> dict[str, Any]:
    e = log.experiment
    return {
        **experiment_data(e),
        "link": {"from": log.link[0].title, "to": log.link[1].title} if log.link else None,
        "result": e.result.value if e.result else None,
        "evaluation": {k: getattr(e, k) for k in EVALUATION},
        "actions": [
            {
                "id": a.id,
                "title": a.title,
                "owner": a.owner,
                "due_on": a.due_on.isoformat(),
                "done": a.done_at is not None,
            }
            for a in log.actions
        ],
        "session_ids": [s.id for s in log.sessions],
        "case_id": e.case_id,
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
    log.actions = list(
        (
            await db.scalars(
                select(ExperimentAction)
                .where(ExperimentAction.experiment_id == e.id)
                .order_by(ExperimentAction.due_on, ExperimentAction.id)
            )
        ).all()
    )
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


async def add_action(
    rt: Runtime, account: Account, lab_id: int, experiment_id: int, data: dict[str, Any]
) -> ExperimentAction:
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        action = ExperimentAction(
            experiment_id=e.id,
            title=validate.text(data.get("title"), "title", N_("The action"), 200, required=True),
            owner=validate.text(data.get("owner"), "owner", N_("The owner"), 120, required=True),
            due_on=validate.day(data.get("due_on"), "due_on", N_("The due date"), required=True),
        )
        tx.db.add(action)
        await tx.db.flush()
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentActionAdded(
                community_id=lab_id,
                experiment_id=e.id,
                action_id=action.id,
                title=action.title,
                due_on=action.due_on.isoformat(),
            ),
            Actor.account(account.id),
        )
    return action


async def action_done(rt: Runtime, account: Account, lab_id: int, experiment_id: int, action_id: Any) -> None:
    async with events.change(rt) as tx:
        await lab_for(tx.db, lab_id, account)
        e = await _experiment(tx.db, lab_id, experiment_id)
        action = await tx.db.get(ExperimentAction, validate.integer(action_id, "action_id"))
        if action is None or action.experiment_id != e.id:
            raise NotFound("No such action in this experiment.")
        if action.done_at is not None:
            return
        action.done_at = datetime.now(UTC)
        await tx.emit(
            Stream.community(lab_id),
            catalogue.ExperimentActionDone(community_id=lab_id, experiment_id=e.id, action_id=action.id),
            Actor.account(account.id),
        )


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
