"""Live polls and scales: single and multiple choice, a rating scale with labelled ends and a short
numeric answer. Each is an activity on the agenda with one question; a participant has one
answer (changeable while the poll is open), results stay hidden until the facilitator reveals
them. Every answer is an event on the session's stream, idempotent by its client id."""

from __future__ import annotations

import statistics
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
    Activity,
    ActivityType,
    LabSession,
    Participant,
    Poll,
    PollAnswer,
    PollKind,
    PollStatus,
)
from labs.runtime import Runtime
from labs.services import sessions

MAX_OPTIONS = 12
MAX_OPTION = 120
MAX_QUESTION = 500
ACTIVITY_TYPE = {
    PollKind.single: ActivityType.poll,
    PollKind.multiple: ActivityType.poll,
    PollKind.scale: ActivityType.scale,
    PollKind.number: ActivityType.number,
}
POLL_TYPES = frozenset(ACTIVITY_TYPE.values())
# The kind a poll activity's question has unless it says (a poll is single choice unless multiple).
KIND_OF_TYPE = {
    ActivityType.poll: PollKind.single,
    ActivityType.scale: PollKind.scale,
    ActivityType.number: PollKind.number,
}
# A number question's bars: each distinct value while there are few, else this many equal bins.
NUMBER_BINS = 8


def poll_data(poll: Poll) -> dict[str, Any]:
    return {
        "id": poll.id,
        "activity_id": poll.activity_id,
        "kind": poll.kind.value,
        "question": poll.question,
        "options": list(poll.options),
        "scale_min": poll.scale_min,
        "scale_max": poll.scale_max,
        "min_label": poll.min_label,
        "max_label": poll.max_label,
        "number_min": poll.number_min,
        "number_max": poll.number_max,
        "unit": poll.unit,
        "status": poll.status.value,
    }


def answer_data(answer: PollAnswer) -> dict[str, Any]:
    return {
        "poll_id": answer.poll_id,
        "participant_id": answer.participant_id,
        "client_id": answer.client_id,
        "choices": list(answer.choices),
        "number": answer.number,
    }


# --- validation ----------------------------------------------------------------------------


def _options(value: Any) -> list[str]:
    raw = value if isinstance(value, list) else str(value or "").splitlines()
    options = [validate.text(o, "options", N_("An option"), MAX_OPTION) for o in raw]
    options = [o for o in options if o]
    if len(set(options)) != len(options):
        raise Invalid("Each option may appear only once.", {"options": "Each option may appear only once."})
    if len(options) < 2:
        raise Invalid("A poll needs at least two options.", {"options": "Give at least two options, one per line."})
    if len(options) > MAX_OPTIONS:
        raise Invalid(
            "A poll has at most %(limit)s options.", {"options": "At most %(limit)s options."}, limit=MAX_OPTIONS
        )
    return options


def poll_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A poll's question as the form or the API gave it, checked for its kind."""
    kind = validate.choice(PollKind, data.get("kind") or "single", "kind")
    fields: dict[str, Any] = {
        "kind": kind,
        "question": validate.text(data.get("question"), "question", N_("The question"), MAX_QUESTION, required=True),
        "options": [],
        "scale_min": None,
        "scale_max": None,
        "min_label": "",
        "max_label": "",
        "number_min": None,
        "number_max": None,
        "unit": "",
    }
    if kind in (PollKind.single, PollKind.multiple):
        fields["options"] = _options(data.get("options"))
    elif kind is PollKind.scale:
        low = validate.integer(data.get("scale_min") if data.get("scale_min") not in (None, "") else 1, "scale_min")
        high = validate.integer(data.get("scale_max") if data.get("scale_max") not in (None, "") else 5, "scale_max")
        if low == high:
            raise Invalid("The two ends of a scale must differ.", {"scale_max": "The two ends of a scale must differ."})
        if low > high or high - low > 10:
            raise Invalid(
                "A scale runs upwards over at most 11 points (for example 1 to 5, or 0 to 10).",
                {"scale_max": "Higher than the lowest point, at most 10 above it."},
            )
        fields.update(
            scale_min=low,
            scale_max=high,
            min_label=validate.text(data.get("min_label"), "min_label", N_("The label of the lowest point"), 60),
            max_label=validate.text(data.get("max_label"), "max_label", N_("The label of the highest point"), 60),
        )
    else:
        low_n = validate.number(data.get("number_min"), "number_min")
        high_n = validate.number(data.get("number_max"), "number_max")
        if low_n is not None and high_n is not None and low_n >= high_n:
            raise Invalid(
                "The lowest allowed number must be below the highest.",
                {"number_max": "Must be above the lowest allowed number."},
            )
        fields.update(
            number_min=low_n,
            number_max=high_n,
            unit=validate.text(data.get("unit"), "unit", N_("The unit"), 40),
        )
    return fields


def definition(activity_type: ActivityType, data: dict[str, Any]) -> dict[str, Any] | None:
    """The poll a poll, scale or number activity must carry, checked (None for other types): the
    question, and options, scale ends or a range as its kind needs."""
    if activity_type not in POLL_TYPES:
        return None
    if data.get("question") in (None, ""):
        raise Invalid(
            "A poll, scale or number activity needs its question (and, for a choice poll, its options).",
            {"question": "Give the question."},
        )
    fields = poll_fields({**data, "kind": data.get("kind") or KIND_OF_TYPE[activity_type].value})
    if ACTIVITY_TYPE[fields["kind"]] is not activity_type:
        raise Invalid(
            "A question of kind %(kind)s does not fit a %(type)s activity.",
            {"kind": "Choose a kind that fits the activity's type."},
            kind=fields["kind"].value,
            type=activity_type.value,
        )
    return fields


async def define(
    tx: events.Change, activity: Activity, new_type: ActivityType, fields: dict[str, Any] | None, actor: Actor
) -> None:
    """Inside a change to an activity (before its type is set): keep its poll in step with its type.
    A poll activity gets its poll, a changed question redefines it, a type without a poll removes
    it; once anyone answered, a poll's type and question stay (409)."""
    poll = await _poll_for_activity(tx.db, activity.id) if activity.id is not None else None
    stream = Stream.session(activity.session_id)
    if poll is None:
        if fields is not None:
            poll = Poll(session_id=activity.session_id, activity_id=activity.id, status=PollStatus.ready, **fields)
            tx.db.add(poll)
            await tx.db.flush()
            await tx.emit(stream, catalogue.build(catalogue.PollCreated, poll_data(poll)), actor)
        return
    retyped = new_type is not activity.type
    if not retyped and (fields is None or all(getattr(poll, k) == v for k, v in fields.items())):
        return  # the same question (or none given: the plan's form edits title, minutes, prompt)
    if await _answers(tx.db, poll.id):
        raise Conflict(
            "People have answered this poll: its type and question can no longer change.",
            {"type": "Answers exist: add a new poll instead."},
        )
    if fields is None:
        await tx.db.delete(poll)
        await tx.emit(stream, catalogue.PollRemoved(poll_id=poll.id), actor)
        return
    for key, value in fields.items():
        setattr(poll, key, value)
    await tx.emit(stream, catalogue.build(catalogue.PollRedefined, poll_data(poll)), actor)


def _answer_value(poll: Poll, data: dict[str, Any]) -> tuple[list[int], float | None]:
    """The checked answer: option indexes for choice polls, a number for scales and numbers."""
    if poll.kind in (PollKind.single, PollKind.multiple):
        raw = data.get("choices", data.get("choice"))
        items = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
        choices = sorted({validate.integer(i, "choices") for i in items})
        if not choices:
            raise Invalid("Choose an answer.", {"choices": "Choose an answer."})
        if poll.kind is PollKind.single and len(choices) > 1:
            raise Invalid("Choose one answer.", {"choices": "Choose one answer."})
        if any(not 0 <= i < len(poll.options) for i in choices):
            raise Invalid("That is not one of the options.", {"choices": "Choose one of the options."})
        return choices, None
    number = validate.number(data.get("number", data.get("value")), "number")
    if number is None:
        raise Invalid("Give a number.", {"number": "Give a number."})
    if poll.kind is PollKind.scale:
        assert poll.scale_min is not None and poll.scale_max is not None
        if number != int(number) or not poll.scale_min <= number <= poll.scale_max:
            raise Invalid(
                "Choose a point from %(low)s to %(high)s.",
                {"number": "From %(low)s to %(high)s."},
                low=poll.scale_min,
                high=poll.scale_max,
            )
        return [], float(int(number))
    if (poll.number_min is not None and number < poll.number_min) or (
        poll.number_max is not None and number > poll.number_max
    ):
        low = "" if poll.number_min is None else f"{poll.number_min:g}"
        high = "" if poll.number_max is None else f"{poll.number_max:g}"
        raise Invalid(
            "The number must lie between %(low)s and %(high)s.",
            {"number": "Between %(low)s and %(high)s."},
            low=low or "-∞",
            high=high or "∞",
        )
    return [], number


# --- reading -------------------------------------------------------------------------------


async def _poll_for_activity(db: AsyncSession, activity_id: int | None) -> Poll | None:
    if activity_id is None:
        return None
    return await db.scalar(select(Poll).where(Poll.activity_id == activity_id))


async def _load(db: AsyncSession, session_id: int, poll_id: int) -> Poll:
    poll = await db.get(Poll, poll_id)
    if poll is None or poll.session_id != session_id:
        raise NotFound("No such poll in this session.")
    return poll


async def list_polls(rt: Runtime, session_id: int) -> list[dict[str, Any]]:
    async with rt.db.read() as db:
        found = await db.scalars(select(Poll).where(Poll.session_id == session_id).order_by(Poll.id))
        return [poll_data(p) for p in found.all()]


def tally(poll: Poll, answers: list[PollAnswer]) -> dict[str, Any]:
    """Counts per option (choice polls), per point (scales) or per value range (numbers), as bars."""
    bars: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"answers": len(answers)}
    if poll.kind in (PollKind.single, PollKind.multiple):
        counts = [0] * len(poll.options)
        for a in answers:
            for i in a.choices:
                if 0 <= i < len(counts):
                    counts[i] += 1
        bars = [{"label": o, "count": c} for o, c in zip(poll.options, counts, strict=True)]
    else:
        values = sorted(a.number for a in answers if a.number is not None)
        if values:
            summary.update(
                mean=round(statistics.fmean(values), 2),
                median=statistics.median(values),
                min=values[0],
                max=values[-1],
            )
        if poll.kind is PollKind.scale:
            assert poll.scale_min is not None and poll.scale_max is not None
            bars = [
                {"label": str(point), "count": values.count(point)}
                for point in range(poll.scale_min, poll.scale_max + 1)
            ]
        else:
            bars = _number_bars(values)
    top = max((b["count"] for b in bars), default=0)
    for b in bars:
        b["share"] = round(100 * b["count"] / top) if top else 0
    return {**summary, "bars": bars}


def _number_bars(values: list[float]) -> list[dict[str, Any]]:
    distinct = sorted(set(values))
    if len(distinct) <= NUMBER_BINS:
        return [{"label": f"{v:g}", "count": values.count(v)} for v in distinct]
    low, high = values[0], values[-1]
    width = (high - low) / NUMBER_BINS
    bars = []
    for i in range(NUMBER_BINS):
        start, end = low + i * width, low + (i + 1) * width
        last = i == NUMBER_BINS - 1
        count = sum(1 for v in values if start <= v < end or (last and v == high))
        bars.append({"label": f"{start:g} to {end:g}", "count": count})
    return bars


async def _answers(db: AsyncSession, poll_id: int) -> list[PollAnswer]:
    return list((await db.scalars(select(PollAnswer).where(PollAnswer.poll_id == poll_id))).all())


async def results(rt: Runtime, session_id: int, poll_id: int) -> dict[str, Any]:
    """A poll with its tally: for facilitators and for the measurements taken from it."""
    async with rt.db.read() as db:
        poll = await _load(db, session_id, poll_id)
        return {**poll_data(poll), "results": tally(poll, await _answers(db, poll.id))}


async def state(rt: Runtime, session_id: int, participant_id: int | None = None) -> dict[str, Any] | None:
    """The current activity's poll as the views show it: the tally for the console (`tally`), for
    everyone once revealed (`results`); a participant's own answer (`mine`)."""
    async with rt.db.read() as db:
        session = await db.get(LabSession, session_id)
        poll = await _poll_for_activity(db, session.current_activity_id if session else None)
        if poll is None:
            return None
        answers = await _answers(db, poll.id)
        counted = tally(poll, answers)
        data = {**poll_data(poll), "answers": len(answers), "tally": counted}
        data["results"] = counted if poll.status is PollStatus.revealed else None
        # The console answers for people without a device (proxy participants) by name.
        proxies = await db.execute(
            select(Participant.id, Participant.display_name)
            .where(Participant.session_id == session_id, Participant.proxy.is_(True), Participant.removed_at.is_(None))
            .order_by(Participant.display_name)
        )
        data["proxies"] = [{"id": i, "display_name": n} for i, n in proxies.all()]
        if participant_id is not None:
            data["mine"] = next((answer_data(a) for a in answers if a.participant_id == participant_id), None)
        return data


# --- changes -------------------------------------------------------------------------------


async def create(rt: Runtime, account: Account, session_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A poll, scale or number question, added to the end of the agenda as its own activity (the
    agenda's own path: sessions.add_activity)."""
    kind = validate.choice(PollKind, data.get("kind") or "single", "kind")
    question = validate.text(data.get("question"), "question", N_("The question"), MAX_QUESTION, required=True)
    activity = await sessions.add_activity(
        rt,
        account,
        session_id,
        {
            **data,
            "type": ACTIVITY_TYPE[kind].value,
            "title": data.get("title") or question[:200],
            "prompt": question,
            "minutes": data.get("minutes") or 5,
        },
    )
    async with rt.db.read() as db:
        poll = await _poll_for_activity(db, activity.id)
        assert poll is not None
        return poll_data(poll)


async def set_status(rt: Runtime, account: Account, session_id: int, poll_id: int, action: str) -> dict[str, Any]:
    """open, close, or reveal (which also closes); reopening a closed poll is allowed, not after reveal."""
    if action not in ("open", "close", "reveal"):
        raise Invalid("Unknown poll action %(action)r; allowed: open, close, reveal.", action=action)
    actor = Actor.account(account.id)
    now = datetime.now(UTC)
    async with events.change(rt) as tx:
        await sessions.load_for(tx.db, session_id, account)
        poll = await _load(tx.db, session_id, poll_id)
        if action == "open":
            if poll.status is PollStatus.revealed:
                raise Conflict("The results of this poll are revealed; it cannot open again.")
            if poll.status is not PollStatus.open:
                poll.status, poll.opened_at, poll.closed_at = PollStatus.open, poll.opened_at or now, None
                await tx.emit(Stream.session(session_id), catalogue.PollOpened(poll_id=poll.id), actor)
        else:
            if poll.status is PollStatus.open:
                poll.status, poll.closed_at = PollStatus.closed, now
                await tx.emit(Stream.session(session_id), catalogue.PollClosed(poll_id=poll.id), actor)
            if action == "reveal" and poll.status is not PollStatus.revealed:
                if poll.status is PollStatus.ready:
                    raise Conflict("This poll has not been opened yet.")
                poll.status, poll.revealed_at = PollStatus.revealed, now
                counted = tally(poll, await _answers(tx.db, poll.id))
                revealed = catalogue.build(catalogue.PollRevealed, {"poll_id": poll.id, "results": counted})
                await tx.emit(Stream.session(session_id), revealed, actor)
        result = poll_data(poll)
    return result


async def answer(
    rt: Runtime,
    session_id: int,
    poll_id: int,
    data: dict[str, Any],
    *,
    participant: Participant | None = None,
    account: Account | None = None,
) -> tuple[dict[str, Any], int | None]:
    """A participant's answer (or a facilitator's for a proxy participant). Returns the answer and
    the event's seq; seq is None when the same client id was already recorded (nothing written)."""
    client_id = validate.text(data.get("client_id"), "client_id", N_("The client id"), 64, required=True)
    async with events.change(rt) as tx:
        if account is not None:
            await sessions.load_for(tx.db, session_id, account)
            participant = await _proxy(tx.db, session_id, data.get("participant_id"))
        assert participant is not None
        if participant.session_id != session_id:
            raise NotFound("No such session.")
        poll = await _load(tx.db, session_id, poll_id)
        existing = await tx.db.scalar(
            select(PollAnswer).where(PollAnswer.poll_id == poll.id, PollAnswer.participant_id == participant.id)
        )
        if existing is not None and existing.client_id == client_id:
            return answer_data(existing), None
        if poll.status is not PollStatus.open:
            raise Conflict("This poll is not open for answers.")
        choices, number = _answer_value(poll, data)
        if existing is None:
            existing = PollAnswer(poll_id=poll.id, participant_id=participant.id)
            tx.db.add(existing)
        changed = existing.id is not None
        existing.client_id, existing.choices, existing.number = client_id, choices, number
        existing.entered_by_id = account.id if account else None
        existing.answered_at = datetime.now(UTC)
        await tx.db.flush()
        payload = {
            **answer_data(existing),
            "changed": changed,
            "entered_by_id": account.id if account else None,
        }
        actor = Actor.account(account.id) if account else Actor.participant(participant.id)
        event = await tx.emit(Stream.session(session_id), catalogue.build(catalogue.PollAnswered, payload), actor)
        result = answer_data(existing)
    return result, event.seq


async def _proxy(db: AsyncSession, session_id: int, participant_id: Any) -> Participant:
    """Facilitators answer only for the proxy participants they entered (people without a device)."""
    if participant_id in (None, ""):
        raise Invalid("Say whom the answer is for.", {"participant_id": "Choose the person."})
    person = await db.get(Participant, validate.integer(participant_id, "participant_id"))
    if person is None or person.session_id != session_id or not person.proxy or person.removed_at is not None:
        raise NotFound("No such person without a device in this session.")
    return person
