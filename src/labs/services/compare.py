"""Learning across living labs: indicators against their targets, experiments by result, the
boosters and barriers that recur, what worked where (by topic and SDG), engagement over time; and
the labs' results in an IATI-style shape (result -> indicator -> baseline, target and actual per
period) for JSON and CSV. Only counts and the labs' own texts leave here: no one's name."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from labs.models import (
    Community,
    Experiment,
    ExperimentResult,
    ExperimentStatus,
    LabSession,
    Note,
    NoteApproval,
    NoteKind,
    Participant,
    TocKind,
    TocNode,
)
from labs.runtime import Runtime
from labs.services import indicators, toc

IATI_TYPE = {
    TocKind.short_term: "outcome",
    TocKind.medium_term: "outcome",
    TocKind.long_term: "outcome",
    TocKind.impact: "impact",
}


@dataclass
class Factor:
    kind: str  # booster or barrier
    text: str
    labs: set[str] = field(default_factory=set)
    mentions: int = 0


@dataclass
class Comparison:
    labs: list[Community]
    courses: dict[int, list[indicators.Course]]
    results: dict[int, Counter[str]]
    factors: list[Factor]
    worked: list[tuple[Community, Experiment]]
    engagement: dict[int, list[dict[str, Any]]]
    topics: list[str]


def _key(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".")


async def compare(rt: Runtime, topic: str | None = None, sdg: int | None = None) -> Comparison:
    found = await toc.labs(rt)
    ids = [lab.id for lab in found]
    names = {lab.id: lab.name for lab in found}
    courses = {lab.id: await indicators.courses(rt, lab.id) for lab in found}
    async with rt.db.read() as db:
        all_experiments = list(
            (await db.scalars(select(Experiment).where(Experiment.community_id.in_(ids)).order_by(Experiment.id))).all()
        )
        # Boosters and barriers: the labs' Theory of Change and the notes of their sessions.
        nodes = (
            await db.execute(
                select(TocNode.community_id, TocNode.kind, TocNode.title).where(
                    TocNode.community_id.in_(ids), TocNode.kind.in_([TocKind.booster, TocKind.barrier])
                )
            )
        ).all()
        notes = (
            await db.execute(
                select(LabSession.community_id, Note.kind, Note.body)
                .join(Note, Note.session_id == LabSession.id)
                .where(
                    LabSession.community_id.in_(ids),
                    Note.kind.in_([NoteKind.booster, NoteKind.barrier]),
                    Note.hidden.is_(False),
                    Note.approval == NoteApproval.approved,
                    Note.deleted.is_(False),
                )
            )
        ).all()
        engagement = await _engagement(db, ids)
    results: dict[int, Counter[str]] = {lab_id: Counter() for lab_id in ids}
    for e in all_experiments:
        results[e.community_id][e.result.value if e.result else e.status.value] += 1
    factors: dict[tuple[str, str], Factor] = {}
    mentioned: list[Any] = [*nodes, *notes]
    for lab_id, kind, text in mentioned:
        kind_value = kind.value
        item = factors.setdefault((kind_value, _key(text)), Factor(kind_value, text))
        item.labs.add(names[lab_id])
        item.mentions += 1
    ranked = sorted(factors.values(), key=lambda f: (-len(f.labs), -f.mentions, f.text))
    worked = [
        (next(lab for lab in found if lab.id == e.community_id), e)
        for e in all_experiments
        if e.status is ExperimentStatus.finished
        and e.result in (ExperimentResult.worked, ExperimentResult.partly)
        and (not topic or topic.casefold() in (t.casefold() for t in e.topics))
        and (not sdg or sdg in e.sdgs)
    ]
    topics = sorted({t for e in all_experiments for t in e.topics}, key=str.casefold)
    return Comparison(found, courses, results, ranked, worked, engagement, topics)


async def _engagement(db: Any, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per lab and month: sessions, participants, returning members (people who were members of an
    earlier session of the same lab, each counted once a month), and the sectors taking part."""
    rows = (
        await db.execute(
            select(LabSession.community_id, LabSession.id, LabSession.starts_at, LabSession.created_at).where(
                LabSession.community_id.in_(ids)
            )
        )
    ).all()
    # Sessions in the order they met (planned start, else when made; the id breaks ties).
    when = {sid: ((start or made).replace(tzinfo=None), sid) for _lab, sid, start, made in rows}
    lab_of = {sid: lab for lab, sid, _start, _made in rows}
    people = (
        await db.execute(
            select(Participant.session_id, Participant.member_id, Participant.sector).where(
                Participant.session_id.in_(list(lab_of))
            )
        )
    ).all()
    first_seen: dict[int, tuple[Any, int]] = {}  # member -> when their first session met
    for sid, member_id, _sector in people:
        if member_id is not None:
            first_seen[member_id] = min(first_seen.get(member_id, when[sid]), when[sid])
    months: dict[tuple[int, str], dict[str, Any]] = {}

    def month(sid: int) -> dict[str, Any]:
        key = when[sid][0].strftime("%Y-%m")
        return months.setdefault(
            (lab_of[sid], key),
            {"month": key, "sessions": 0, "participants": 0, "returning": set(), "sectors": Counter()},
        )

    for sid in lab_of:
        month(sid)["sessions"] += 1
    for sid, member_id, sector in people:
        entry = month(sid)
        entry["participants"] += 1
        if member_id is not None and first_seen[member_id] < when[sid]:
            entry["returning"].add(member_id)
        entry["sectors"][sector.value if sector else "unknown"] += 1
    by_lab: dict[int, list[dict[str, Any]]] = {lab_id: [] for lab_id in ids}
    for (lab, _month), entry in sorted(months.items(), key=lambda kv: kv[0][1]):
        by_lab[lab].append({**entry, "returning": len(entry["returning"]), "sectors": dict(entry["sectors"])})
    return by_lab


# --- IATI-style results --------------------------------------------------------------------


def _periods(course: indicators.Course) -> list[dict[str, Any]]:
    """Calendar-year periods from the baseline to the target (or the last measurement), each with
    the last actual value measured in it and, in the target's year, the target."""
    ind = course.indicator
    last = max([ind.target_on] + [m.measured_on for m in course.measurements])
    periods = []
    for year in range(ind.baseline_on.year, last.year + 1):
        start = max(date(year, 1, 1), ind.baseline_on)
        end = date(year, 12, 31)
        inside = [m for m in course.measurements if start <= m.measured_on <= end]
        period: dict[str, Any] = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        if ind.target_on.year == year:
            period["target"] = {"value": ind.target}
        if inside:
            latest = inside[-1]
            period["actual"] = {"value": latest.value, "iso_date": latest.measured_on.isoformat()}
        if "target" in period or "actual" in period:
            periods.append(period)
    return periods


async def iati(rt: Runtime) -> list[dict[str, Any]]:
    """Each lab with its results: result (an outcome or the impact) -> indicator -> baseline,
    target and actual per period."""
    out = []
    for lab in await toc.labs(rt):
        results: dict[int, dict[str, Any]] = {}
        for course in await indicators.courses(rt, lab.id):
            node, ind = course.node, course.indicator
            result = results.setdefault(
                node.id,
                {
                    "title": node.title,
                    "type": IATI_TYPE.get(node.kind, "outcome"),
                    "level": node.kind.value,
                    "indicator": [],
                },
            )
            result["indicator"].append(
                {
                    "title": ind.name,
                    "measure": ind.unit,
                    "ascending": ind.direction.value == "higher",
                    "source": ind.source.value,
                    "baseline": {
                        "iso_date": ind.baseline_on.isoformat(),
                        "year": ind.baseline_on.year,
                        "value": ind.baseline,
                    },
                    "target": {"iso_date": ind.target_on.isoformat(), "value": ind.target},
                    "period": _periods(course),
                }
            )
        out.append({"living_lab": {"id": lab.id, "name": lab.name, "city": lab.city}, "result": list(results.values())})
    return out


IATI_COLUMNS = (
    "living_lab",
    "result",
    "result_type",
    "indicator",
    "measure",
    "ascending",
    "baseline_date",
    "baseline",
    "period_start",
    "period_end",
    "target",
    "actual",
)


def iati_csv(data: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=IATI_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(iati_rows(data))
    return out.getvalue()


def iati_rows(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same, one row per indicator and period (an indicator without periods: one row)."""
    rows = []
    for lab in data:
        for result in lab["result"]:
            for ind in result["indicator"]:
                base = {
                    "living_lab": lab["living_lab"]["name"],
                    "result": result["title"],
                    "result_type": result["type"],
                    "indicator": ind["title"],
                    "measure": ind["measure"],
                    "ascending": "1" if ind["ascending"] else "0",
                    "baseline_date": ind["baseline"]["iso_date"],
                    "baseline": ind["baseline"]["value"],
                }
                for period in ind["period"] or [{}]:
                    rows.append(
                        {
                            **base,
                            "period_start": period.get("period_start", ""),
                            "period_end": period.get("period_end", ""),
                            "target": period.get("target", {}).get("value", ""),
                            "actual": period.get("actual", {}).get("value", ""),
                        }
                    )
    return rows
