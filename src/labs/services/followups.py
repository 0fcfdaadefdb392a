"""Follow-ups weeks later: the owner's side of a check-in (open it by its private link, answer,
answer again), the facilitator's list of due, overdue and answered check-ins with their links,
sending due links by email once each, and turning an adoption into a case derived from the case
that inspired it. Planning the check-ins (when, how many) is labs.services.outcomes.

A link's token is never stored: only its SHA-256, and the nonce it is derived from with the
secret key (labs.services.credentials.follow_up_token). An unknown, forged, cancelled or expired token is one and
the same 404."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, i18n, paging, validate
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    ActorKind,
    Case,
    Event,
    Experiment,
    FollowUp,
    FollowUpStatus,
    LabSession,
    Outcome,
    OutcomeKind,
    OutcomeSource,
    Progress,
)
from labs.runtime import Runtime
from labs.services import cases, credentials, outcomes

MAX_TEXT = 5000
# Unanswered this long after its due date, a check-in counts as overdue.
GRACE = timedelta(days=14)
STATES = ("due", "overdue", "answered", "upcoming", "all")
ADOPTIONS = (Progress.adopted, Progress.adapted)
SYSTEM = Actor(ActorKind.system)


def _today() -> date:
    return datetime.now(UTC).date()


def state_of(follow_up: FollowUp, today: date | None = None) -> str:
    """upcoming, due, overdue, answered or cancelled: what the facilitator's list shows."""
    today = today or _today()
    if follow_up.status is FollowUpStatus.cancelled:
        return "cancelled"
    if follow_up.status is FollowUpStatus.answered:
        return "answered"
    if follow_up.due_on > today:
        return "upcoming"
    return "overdue" if follow_up.due_on < today - GRACE else "due"


def link(rt: Runtime, base_url: str, follow_up: FollowUp) -> str:
    base = (rt.settings.public_url or base_url).rstrip("/")
    return f"{base}/followup/{outcomes.token_of(rt, follow_up)}"


# --- the owner's side ----------------------------------------------------------------------


@dataclass
class CheckIn:
    """What the owner's form shows: the check-in, its outcome and the session it came from (or,
    for an action of a living lab, its experiment)."""

    follow_up: FollowUp
    outcome: Outcome
    session: LabSession | None
    experiment: Experiment | None = None

    @property
    def language(self) -> str:
        return self.session.language if self.session else i18n.DEFAULT_LANGUAGE


async def _by_token(db: AsyncSession, token: str) -> tuple[FollowUp, Outcome]:
    gone = NotFound("Not found.")
    if not token.startswith(credentials.FOLLOW_UP_TOKEN_PREFIX) or len(token) > 100:
        raise gone
    follow_up = await db.scalar(select(FollowUp).where(FollowUp.token_hash == credentials.token_digest(token)))
    if follow_up is None or follow_up.status is FollowUpStatus.cancelled or _today() > outcomes.link_expires(follow_up):
        raise gone
    outcome = await db.get(Outcome, follow_up.outcome_id)
    if outcome is None:
        raise gone
    return follow_up, outcome


async def open_check_in(rt: Runtime, token: str) -> CheckIn:
    async with rt.db.read() as db:
        follow_up, outcome = await _by_token(db, token)
        session = await db.get(LabSession, outcome.session_id) if outcome.session_id else None
        experiment = await db.get(Experiment, outcome.experiment_id) if outcome.experiment_id else None
        return CheckIn(follow_up, outcome, session, experiment)


def _answer_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    progress = validate.choice(Progress, data.get("progress") or None, "progress")
    fields: dict[str, Any] = {
        "progress": progress,
        "findings": validate.text(
            data.get("what_was_done"), "what_was_done", N_("What was done"), MAX_TEXT, required=True
        ),
        "evidence": validate.text(data.get("evidence"), "evidence", N_("The evidence"), MAX_TEXT),
        "adopting_city": validate.text(data.get("adopting_city"), "adopting_city", N_("The adopting city"), 120)
        or None,
        "adaptations": validate.text(data.get("adaptations"), "adaptations", N_("What was changed to fit"), MAX_TEXT),
    }
    if progress in ADOPTIONS and not fields["adopting_city"]:
        raise Invalid(
            "For an adoption, say which city adopted it.", {"adopting_city": "Which city adopted the practice?"}
        )
    if progress is Progress.adapted and not fields["adaptations"]:
        raise Invalid("Say what was changed to make it fit there.", {"adaptations": "What was changed to make it fit?"})
    return fields


async def answer(rt: Runtime, token: str, data: Mapping[str, Any]) -> FollowUp:
    """The owner answers a check-in (again, if they like: the latest answer is the check-in's,
    every answer stays in the outcome's event log)."""
    fields = _answer_fields(data)
    async with events.change(rt) as tx:
        follow_up, outcome = await _by_token(tx.db, token)
        for key, value in fields.items():
            setattr(follow_up, key, value)
        follow_up.status = FollowUpStatus.answered
        follow_up.done_at = datetime.now(UTC)
        follow_up.answers += 1
        await tx.emit(
            Stream.outcome(outcome.id),
            catalogue.FollowUpAnswered(
                id=follow_up.id,
                outcome_id=outcome.id,
                answer=follow_up.answers,
                progress=fields["progress"].value,
                what_was_done=fields["findings"],
                evidence=fields["evidence"],
                adopting_city=fields["adopting_city"],
                adaptations=fields["adaptations"],
            ),
            Actor(ActorKind.owner, follow_up.id),
        )
    return follow_up


async def answers(rt: Runtime, outcome_id: int) -> list[dict[str, Any]]:
    """Every answer given to the outcome's check-ins, oldest first, from its event log; an answer
    the owner later replaced is marked superseded."""
    async with rt.db.read() as db:
        return await answers_of(db, [outcome_id])


async def answers_of(db: AsyncSession, outcome_ids: list[int]) -> list[dict[str, Any]]:
    """The same for several outcomes (an experiment's actions), in one read."""
    if not outcome_ids:
        return []
    found = await db.scalars(
        select(Event)
        .where(Event.stream == "outcome", Event.stream_id.in_(outcome_ids), Event.type == "followup.answered")
        .order_by(Event.stream_id, Event.seq)
    )
    given = [{**e.data, "at": e.at} for e in found.all()]
    latest = {a["id"]: a["answer"] for a in given}
    return [{**a, "superseded": a["answer"] < latest[a["id"]]} for a in given]


# --- the facilitator's list ----------------------------------------------------------------


def _in_state(query: Any, state: str, today: date) -> Any:
    planned = FollowUp.status == FollowUpStatus.planned
    if state == "due":
        return query.where(planned, FollowUp.due_on <= today, FollowUp.due_on >= today - GRACE)
    if state == "overdue":
        return query.where(planned, FollowUp.due_on < today - GRACE)
    if state == "answered":
        return query.where(FollowUp.status == FollowUpStatus.answered)
    if state == "upcoming":
        return query.where(planned, FollowUp.due_on > today)
    return query.where(FollowUp.status != FollowUpStatus.cancelled)


def _listing(account: Account, state: str) -> Any:
    if state not in STATES:
        raise Invalid(
            "Unknown state %(value)r; allowed: %(allowed)s.",
            {"state": "Choose one of: %(allowed)s."},
            value=state,
            allowed=", ".join(STATES),
        )
    query = (
        select(FollowUp, Outcome, LabSession)
        .join(Outcome, Outcome.id == FollowUp.outcome_id)
        .outerjoin(LabSession, LabSession.id == Outcome.session_id)
        .order_by(FollowUp.due_on, FollowUp.id)
    )
    if (rule := outcomes.visible_to(account)) is not None:
        query = query.where(rule)
    return _in_state(query, state, _today())


async def listing(
    rt: Runtime, account: Account, state: str = "due", page: Any = 1, per_page: Any = None
) -> paging.Page[tuple[FollowUp, Outcome, LabSession | None]]:
    """Check-ins of the outcomes the account may see, by due date: due (up to two weeks late),
    overdue, answered, upcoming or all (not cancelled)."""
    query = _listing(account, state)
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page, per_page)


async def due_links(rt: Runtime, account: Account, base_url: str) -> list[dict[str, str]]:
    """Every due or overdue check-in with its owner and private link (for a mail merge)."""
    async with rt.db.read() as db:
        rows = (await db.execute(_listing(account, "due"))).all()
        late = (await db.execute(_listing(account, "overdue"))).all()
    return [
        {
            "owner": outcome.owner_name,
            "email": outcome.owner_email or "",
            "outcome": outcome.title,
            "due_on": follow_up.due_on.isoformat(),
            "link": link(rt, base_url, follow_up),
        }
        for follow_up, outcome, _session in sorted([*late, *rows], key=lambda row: (row[0].due_on, row[0].id))
    ]


# --- sending -------------------------------------------------------------------------------


@dataclass
class Sent:
    follow_up_id: int
    to: str
    language: str
    outcome: str
    reason: str = ""  # why the mail server refused it


def message(rt: Runtime, base_url: str, check_in: CheckIn, sender: str) -> EmailMessage:
    """The check-in email, in the session's language."""
    lang, outcome = check_in.language, check_in.outcome
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"{outcome.owner_name} <{outcome.owner_email}>"
    msg["Subject"] = i18n.gettext(lang, "How is it going? %(title)s", title=outcome.title)
    url = link(rt, base_url, check_in.follow_up)
    if check_in.experiment is not None:
        took_on = i18n.gettext(
            lang,
            "In the experiment %(experiment)s you took on this action: %(title)s. How is it going? Answering "
            "takes two minutes, on your phone too, and needs no account:",
            experiment=check_in.experiment.title,
            title=outcome.title,
        )
    else:
        took_on = i18n.gettext(
            lang,
            "After %(session)s you took this on: %(title)s. How is it going? Answering takes two minutes, "
            "on your phone too, and needs no account:",
            session=check_in.session.title if check_in.session else i18n.gettext(lang, "the session"),
            title=outcome.title,
        )
    body = [
        i18n.gettext(lang, "Hello %(name)s,", name=outcome.owner_name),
        "",
        took_on,
        "",
        url,
        "",
        i18n.gettext(lang, "The link is yours alone; you can use it again to update your answer."),
    ]
    msg.set_content("\n".join(body))
    return msg


async def _due_unsent(rt: Runtime, today: date) -> list[CheckIn]:
    async with rt.db.read() as db:
        rows = (
            await db.execute(
                select(FollowUp, Outcome, LabSession, Experiment)
                .join(Outcome, Outcome.id == FollowUp.outcome_id)
                .outerjoin(LabSession, LabSession.id == Outcome.session_id)
                .outerjoin(Experiment, Experiment.id == Outcome.experiment_id)
                .where(
                    FollowUp.status == FollowUpStatus.planned,
                    FollowUp.sent_at.is_(None),
                    FollowUp.due_on <= today,
                    FollowUp.due_on >= today - outcomes.LINK_VALID,
                    Outcome.owner_email.is_not(None),
                )
                .order_by(FollowUp.due_on, FollowUp.id)
            )
        ).all()
    return [CheckIn(f, o, s, e) for f, o, s, e in rows]


async def _claim(rt: Runtime, check_in: CheckIn) -> bool:
    """Mark a check-in as sent before it goes out, so two overlapping runs never both send it
    (False: another run has it)."""
    follow_up = check_in.follow_up
    async with events.change(rt) as tx:
        claimed = await tx.db.execute(
            update(FollowUp)
            .where(FollowUp.id == follow_up.id, FollowUp.sent_at.is_(None))
            .values(sent_at=datetime.now(UTC))
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await tx.emit(
            Stream.outcome(follow_up.outcome_id),
            catalogue.FollowUpSent(
                id=follow_up.id, outcome_id=follow_up.outcome_id, channel="email", language=check_in.language
            ),
            SYSTEM,
        )
    return True


async def _release(rt: Runtime, check_in: CheckIn, reason: str) -> None:
    """The mail server refused it: the next run tries again."""
    follow_up = check_in.follow_up
    async with events.change(rt) as tx:
        await tx.db.execute(update(FollowUp).where(FollowUp.id == follow_up.id).values(sent_at=None))
        await tx.emit(
            Stream.outcome(follow_up.outcome_id),
            catalogue.FollowUpSendFailed(id=follow_up.id, outcome_id=follow_up.outcome_id, reason=reason[:500]),
            SYSTEM,
        )


async def send_due(
    rt: Runtime, deliver: Callable[[EmailMessage], None], base_url: str, sender: str, today: date | None = None
) -> tuple[list[Sent], list[Sent]]:
    """Email each due check-in that was not sent yet, once: safe to run from cron. Check-ins
    without an owner's email are left to the facilitator's list. Returns (sent, failed)."""
    sent: list[Sent] = []
    failed: list[Sent] = []
    for check_in in await _due_unsent(rt, today or _today()):
        if not await _claim(rt, check_in):
            continue
        outcome = check_in.outcome
        report = Sent(check_in.follow_up.id, outcome.owner_email or "", check_in.language, outcome.title)
        try:
            await asyncio.to_thread(deliver, message(rt, base_url, check_in, sender))
        except Exception as e:  # any refusal of the mail server: recorded, retried next run
            report.reason = f"{type(e).__name__}: {e}"
            await _release(rt, check_in, report.reason)
            failed.append(report)
            continue
        sent.append(report)
    return sent, failed


# --- an adoption becomes a case --------------------------------------------------------------


async def source_cases(db: AsyncSession, outcome_id: int) -> list[Case]:
    rows = await db.scalars(
        select(Case).join(OutcomeSource, OutcomeSource.case_id == Case.id).where(OutcomeSource.outcome_id == outcome_id)
    )
    return list(rows.all())


def adoption(view: outcomes.OutcomeView) -> FollowUp | None:
    """The latest check-in that reports the practice adopted or adapted somewhere, if any."""
    adopted = [f for f in view.follow_ups if f.progress in ADOPTIONS and f.status is FollowUpStatus.answered]
    return max(adopted, key=lambda f: f.done_at or datetime.min.replace(tzinfo=UTC), default=None)


def can_become_case(view: outcomes.OutcomeView) -> bool:
    practice = view.outcome.kind in (OutcomeKind.new_practice, OutcomeKind.adapted_practice)
    return bool(view.cases) and (practice or adoption(view) is not None)


def case_prefill(view: outcomes.OutcomeView) -> dict[str, Any]:
    """The derived case's form, filled from the outcome and its adoption (the source case gives
    country, SDGs and topics)."""
    outcome, source = view.outcome, view.cases[0]
    adopted = adoption(view)
    summary = outcome.what_changed
    if adopted is not None and adopted.adaptations:
        summary += "\n\n" + adopted.adaptations
    return {
        "from_case_id": source.id,
        "title": outcome.title,
        "summary": summary,
        "city": (adopted.adopting_city if adopted else None) or outcome.where or source.city,
        "country": source.country,
        "sdgs": ", ".join(str(n) for n in source.sdgs or []),
        "topics": ", ".join(source.topics or []),
        "stage": "scaled" if adopted is not None and adopted.progress is Progress.scaled else "pilot",
        "organisation": outcome.who,
        "boosters": "",
        "barriers": "",
    }


async def derive_case(rt: Runtime, account: Account, outcome_id: Any, data: Mapping[str, Any]) -> Case:
    """One step from an adopted or adapted practice to a new case derived from the case that
    inspired it (one of the outcome's source cases), through the case library."""
    view = await outcomes.view(rt, account, outcome_id)
    if not can_become_case(view):
        raise Conflict(
            "Only a practice that was adopted or adapted, and that came from a shared case, becomes a derived case."
        )
    chosen = validate.integer(data.get("from_case_id") or view.cases[0].id, "from_case_id")
    if chosen not in {c.id for c in view.cases}:
        raise Invalid("Choose one of the cases this outcome came from.", {"from_case_id": "Not a source case."})
    fields = {k: v for k, v in data.items() if k != "from_case_id"}
    return await cases.derive_case(rt, account, chosen, view.outcome.id, fields)
