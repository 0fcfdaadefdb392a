"""Indicators on a living lab's outcomes: name, unit, direction, data source, baseline and target
(each with its date) and an optional declared range; and their measurements, entered on screen,
imported from CSV (all rows checked first: nothing is written from a file with errors) or taken
from a closed live poll or scale (the measurement then points to its session and poll). Each
change is an event on the lab's (community's) stream."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, validate
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    DataSource,
    Direction,
    Indicator,
    LabSession,
    Measurement,
    Poll,
    PollAnswer,
    PollKind,
    PollStatus,
    TocNode,
    Wave,
)
from labs.runtime import Runtime
from labs.services import polls
from labs.services.sessions import can_run
from labs.services.toc import MEASURABLE, lab_for, load_lab

MAX_CSV_ROWS = 5000
MAX_CSV_BYTES = 1_000_000
CSV_COLUMNS = ("date", "value", "unit", "wave", "note")


@dataclass
class Course:
    """An indicator with its measurements in date order: what its chart and table show."""

    indicator: Indicator
    node: TocNode
    measurements: list[Measurement] = field(default_factory=list)

    @property
    def latest(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None

    @property
    def progress(self) -> float | None:
        """How far the latest value has come from baseline to target (1.0 = reached), or None."""
        ind, latest = self.indicator, self.latest
        if latest is None or ind.target == ind.baseline:
            return None
        return round((latest.value - ind.baseline) / (ind.target - ind.baseline), 3)

    @property
    def on_track(self) -> bool | None:
        """Reached or passed the target, in the direction that counts as better."""
        latest = self.latest
        if latest is None:
            return None
        ind = self.indicator
        return latest.value >= ind.target if ind.direction is Direction.higher_is_better else latest.value <= ind.target


def indicator_data(ind: Indicator) -> dict[str, Any]:
    return {
        "id": ind.id,
        "node_id": ind.node_id,
        "name": ind.name,
        "unit": ind.unit,
        "direction": ind.direction.value,
        "source": ind.source.value,
        "baseline": ind.baseline,
        "baseline_on": ind.baseline_on.isoformat(),
        "target": ind.target,
        "target_on": ind.target_on.isoformat(),
        "range_min": ind.range_min,
        "range_max": ind.range_max,
    }


def measurement_data(m: Measurement) -> dict[str, Any]:
    return {
        "id": m.id,
        "indicator_id": m.indicator_id,
        "value": m.value,
        "measured_on": m.measured_on.isoformat(),
        "wave": m.wave.value if m.wave else None,
        "note": m.note,
        "session_id": m.session_id,
        "poll_id": m.poll_id,
    }


def course_data(course: Course) -> dict[str, Any]:
    return {
        **indicator_data(course.indicator),
        "node": {"id": course.node.id, "kind": course.node.kind.value, "title": course.node.title},
        "measurements": [measurement_data(m) for m in course.measurements],
        "progress": course.progress,
        "on_track": course.on_track,
    }


# --- validation ----------------------------------------------------------------------------


def _in_range(ind: Indicator | dict[str, Any], value: float, field_name: str) -> None:
    low = ind["range_min"] if isinstance(ind, dict) else ind.range_min
    high = ind["range_max"] if isinstance(ind, dict) else ind.range_max
    if (low is not None and value < low) or (high is not None and value > high):
        raise Invalid(
            "%(value)s is outside the declared range (%(low)s to %(high)s).",
            {field_name: "Outside the declared range (%(low)s to %(high)s)."},
            value=f"{value:g}",
            low="-∞" if low is None else f"{low:g}",
            high="∞" if high is None else f"{high:g}",
        )


def indicator_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": validate.text(data.get("name"), "name", N_("The name"), 200, required=True),
        "unit": validate.text(data.get("unit"), "unit", N_("The unit"), 40, required=True),
        "direction": validate.choice(Direction, data.get("direction") or "higher", "direction"),
        "source": validate.choice(DataSource, data.get("source"), "source"),
        "baseline": validate.number(data.get("baseline"), "baseline", required=True),
        "baseline_on": validate.day(data.get("baseline_on"), "baseline_on", N_("The baseline date"), required=True),
        "target": validate.number(data.get("target"), "target", required=True),
        "target_on": validate.day(data.get("target_on"), "target_on", N_("The target date"), required=True),
        "range_min": validate.number(data.get("range_min"), "range_min"),
        "range_max": validate.number(data.get("range_max"), "range_max"),
    }
    if fields["target_on"] <= fields["baseline_on"]:
        raise Invalid(
            "The target date must come after the baseline date.",
            {"target_on": "After the baseline date (%(day)s)."},
            day=fields["baseline_on"].isoformat(),
        )
    low, high = fields["range_min"], fields["range_max"]
    if low is not None and high is not None and low >= high:
        raise Invalid("The lowest possible value must be below the highest.", {"range_max": "Above the lowest value."})
    _in_range(fields, fields["baseline"], "baseline")
    _in_range(fields, fields["target"], "target")
    if fields["target"] == fields["baseline"]:
        raise Invalid("The target must differ from the baseline.", {"target": "Different from the baseline."})
    better = fields["target"] > fields["baseline"]
    if better != (fields["direction"] is Direction.higher_is_better):
        raise Invalid(
            "With “higher is better” the target lies above the baseline; with “lower is better”, below it.",
            {"target": "On the better side of the baseline."},
        )
    return fields


def _unit(ind: Indicator, given: Any, field_name: str = "unit") -> None:
    unit = str(given or "").strip()
    if unit and unit != ind.unit:
        raise Invalid(
            "The unit %(given)r is not the indicator's unit (%(unit)s).",
            {field_name: "The indicator is measured in %(unit)s."},
            given=unit,
            unit=ind.unit,
        )


def _measurement_fields(ind: Indicator, data: dict[str, Any]) -> dict[str, Any]:
    value = validate.number(data.get("value"), "value", required=True)
    assert value is not None
    _unit(ind, data.get("unit"))
    _in_range(ind, value, "value")
    wave = data.get("wave")
    return {
        "value": value,
        "measured_on": validate.day(data.get("measured_on"), "measured_on", N_("The date"), required=True),
        "wave": validate.choice(Wave, wave, "wave") if wave not in (None, "") else None,
        "note": validate.text(data.get("note"), "note", N_("The note"), 500),
    }


# --- reading -------------------------------------------------------------------------------


async def _indicator(db: AsyncSession, community_id: int, indicator_id: Any) -> tuple[Indicator, TocNode]:
    ind = await db.get(Indicator, validate.integer(indicator_id, "indicator_id"))
    node = await db.get(TocNode, ind.node_id) if ind else None
    if ind is None or node is None or node.community_id != community_id:
        raise NotFound("No such indicator in this living lab.")
    return ind, node


async def _courses(db: AsyncSession, community_id: int) -> list[Course]:
    rows = await db.execute(
        select(Indicator, TocNode)
        .join(TocNode, TocNode.id == Indicator.node_id)
        .where(TocNode.community_id == community_id)
        .order_by(TocNode.id, Indicator.id)
    )
    courses = [Course(ind, node) for ind, node in rows.all()]
    by_id = {c.indicator.id: c for c in courses}
    if by_id:
        found = await db.scalars(
            select(Measurement)
            .where(Measurement.indicator_id.in_(by_id))
            .order_by(Measurement.measured_on, Measurement.id)
        )
        for m in found.all():
            by_id[m.indicator_id].measurements.append(m)
    return courses


async def courses(rt: Runtime, community_id: int) -> list[Course]:
    async with rt.db.read() as db:
        await load_lab(db, community_id)
        return await _courses(db, community_id)


async def course(rt: Runtime, community_id: int, indicator_id: int) -> Course:
    async with rt.db.read() as db:
        await load_lab(db, community_id)
        for found in await _courses(db, community_id):
            if found.indicator.id == indicator_id:
                return found
    raise NotFound("No such indicator in this living lab.")


async def usable_polls(rt: Runtime, community_id: int) -> list[tuple[LabSession, Poll]]:
    """Closed or revealed polls of the lab's sessions: the ones a measurement can be taken from."""
    async with rt.db.read() as db:
        rows = await db.execute(
            select(LabSession, Poll)
            .join(Poll, Poll.session_id == LabSession.id)
            .where(LabSession.community_id == community_id, Poll.status.in_([PollStatus.closed, PollStatus.revealed]))
            .order_by(LabSession.starts_at.desc().nulls_last(), Poll.id)
        )
        return [(s, p) for s, p in rows.all()]


# --- changes -------------------------------------------------------------------------------


async def define(rt: Runtime, account: Account, community_id: int, node_id: Any, data: dict[str, Any]) -> Indicator:
    fields = indicator_fields(data)
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = await tx.db.get(TocNode, validate.integer(node_id, "node_id"))
        if node is None or node.community_id != community_id:
            raise NotFound("No such element in this Theory of Change.", {"node_id": "Choose an outcome of this lab."})
        if node.kind not in MEASURABLE:
            raise Invalid(
                "Indicators measure outcomes and impact, not activities, outputs or context.",
                {"node_id": "Choose a short-, medium- or long-term outcome, or the impact."},
            )
        ind = Indicator(node_id=node.id, **fields)
        tx.db.add(ind)
        await tx.db.flush()
        await tx.emit(
            Stream.community(community_id),
            catalogue.IndicatorDefined(community_id=community_id, **indicator_data(ind)),
            Actor.account(account.id),
        )
    return ind


async def update(
    rt: Runtime, account: Account, community_id: int, indicator_id: int, data: dict[str, Any]
) -> Indicator:
    fields = indicator_fields(data)
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        ind, _node = await _indicator(tx.db, community_id, indicator_id)
        outside = await tx.db.scalar(
            select(Measurement.value)
            .where(Measurement.indicator_id == ind.id)
            .where(
                (Measurement.value < (fields["range_min"] if fields["range_min"] is not None else float("-inf")))
                | (Measurement.value > (fields["range_max"] if fields["range_max"] is not None else float("inf")))
            )
            .limit(1)
        )
        if outside is not None:
            raise Invalid(
                "A measurement (%(value)s) lies outside this range.",
                {"range_min": "A measurement lies outside it."},
                value=f"{outside:g}",
            )
        for key, value in fields.items():
            setattr(ind, key, value)
        await tx.emit(
            Stream.community(community_id),
            catalogue.IndicatorUpdated(community_id=community_id, **indicator_data(ind)),
            Actor.account(account.id),
        )
    return ind


async def _record(
    tx: events.Change, account: Account, community_id: int, ind: Indicator, fields: dict[str, Any], via: str
) -> Measurement:
    m = Measurement(indicator_id=ind.id, created_by_id=account.id, **fields)
    tx.db.add(m)
    await tx.db.flush()
    await tx.emit(
        Stream.community(community_id),
        catalogue.MeasurementRecorded(community_id=community_id, via=via, **measurement_data(m)),
        Actor.account(account.id),
    )
    return m


async def record(
    rt: Runtime, account: Account, community_id: int, indicator_id: int, data: dict[str, Any]
) -> Measurement:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        ind, _node = await _indicator(tx.db, community_id, indicator_id)
        m = await _record(tx, account, community_id, ind, _measurement_fields(ind, data), "screen")
    return m


def _read_csv(ind: Indicator, content: bytes) -> list[dict[str, Any]]:
    """Every row checked before anything is written; errors name their line."""
    if len(content) > MAX_CSV_BYTES:
        raise Invalid("The file is larger than 1 MB.", {"file": "At most 1 MB."})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "The file is not UTF-8 text; save it as CSV (UTF-8).", {"file": "Save it as CSV (UTF-8)."}
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in ("date", "value") if c not in columns]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if missing or unknown:
        raise Invalid(
            "Line 1: the columns must be date and value, with optional unit, wave and note (found: %(found)s).",
            {"file": "Columns: date, value, unit, wave, note."},
            found=", ".join(columns) or "none",
        )
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if len(rows) + len(problems) >= MAX_CSV_ROWS:
            raise Invalid(
                "The file has more than %(limit)s rows.", {"file": "At most %(limit)s rows."}, limit=MAX_CSV_ROWS
            )
        values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue
        try:
            fields = _measurement_fields(ind, {**values, "measured_on": values.get("date")})
        except Invalid as e:
            problems.append(f"Line {line}: {e.message}")
            continue
        rows.append(fields)
    if problems:
        shown = problems[:20] + ([f"… and {len(problems) - 20} more."] if len(problems) > 20 else [])
        raise Invalid(
            "Nothing was imported; %(count)s lines have errors: %(lines)s",
            {"file": "\n".join(shown).replace("%", "%%")},  # field texts are formatted with the values too
            count=len(problems),
            lines=" ".join(shown),
        )
    if not rows:
        raise Invalid("The file has no measurements.", {"file": "Add at least one row under the header."})
    return rows


async def import_csv(
    rt: Runtime, account: Account, community_id: int, indicator_id: int, content: bytes
) -> list[Measurement]:
    async with rt.db.read() as db:
        await lab_for(db, community_id, account)
        ind, _node = await _indicator(db, community_id, indicator_id)
    rows = _read_csv(ind, content)
    async with events.change(rt) as tx:
        ind, _node = await _indicator(tx.db, community_id, indicator_id)
        made = [await _record(tx, account, community_id, ind, fields, "csv") for fields in rows]
    return made


async def from_poll(
    rt: Runtime, account: Account, community_id: int, indicator_id: int, data: dict[str, Any]
) -> Measurement:
    """A closed poll's result as a measurement: the mean of a scale or number question, or the
    share (%) of answers that chose one option of a choice poll."""
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        ind, _node = await _indicator(tx.db, community_id, indicator_id)
        poll = await tx.db.get(Poll, validate.integer(data.get("poll_id"), "poll_id"))
        session = await tx.db.get(LabSession, poll.session_id) if poll else None
        if poll is None or session is None or session.community_id != community_id:
            raise NotFound("No such poll in this living lab's sessions.", {"poll_id": "Choose a poll of this lab."})
        if not await can_run(tx.db, session.id, account):
            raise NotFound("No such poll in this living lab's sessions.", {"poll_id": "Choose a poll of this lab."})
        if poll.status not in (PollStatus.closed, PollStatus.revealed):
            raise Conflict(
                "Close the poll first: its result is not final while it is open.", {"poll_id": "Still open."}
            )
        answers = list((await tx.db.scalars(select(PollAnswer).where(PollAnswer.poll_id == poll.id))).all())
        if not answers:
            raise Conflict("Nobody answered this poll.", {"poll_id": "No answers."})
        counted = polls.tally(poll, answers)
        if poll.kind in (PollKind.single, PollKind.multiple):
            if ind.unit != "%":
                raise Invalid(
                    "A choice poll gives a share of answers in %%; this indicator is measured in %(unit)s.",
                    {"poll_id": "Use a scale or number question, or an indicator in %%."},
                    unit=ind.unit,
                )
            option = validate.integer(data.get("option"), "option") - 1  # counted from 1, as people do
            if not 0 <= option < len(poll.options):
                raise Invalid("Choose one of the poll's options.", {"option": "Choose one of the options."})
            value = round(100 * counted["bars"][option]["count"] / len(answers), 1)
        else:
            if poll.kind is PollKind.number:
                _unit(ind, poll.unit, "poll_id")
            value = counted["mean"]
        _in_range(ind, value, "poll_id")
        wave = data.get("wave")
        day = validate.day(data.get("measured_on"), "measured_on", N_("The date")) or (
            (session.started_at or session.starts_at or session.created_at).date()
        )
        fields = {
            "value": value,
            "measured_on": day,
            "wave": validate.choice(Wave, wave, "wave") if wave not in (None, "") else None,
            "note": validate.text(data.get("note"), "note", N_("The note"), 500) or f"{poll.question} ({len(answers)})",
            "session_id": session.id,
            "poll_id": poll.id,
        }
        m = await _record(tx, account, community_id, ind, fields, "poll")
    return m
