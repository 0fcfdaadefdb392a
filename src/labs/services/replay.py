"""A session as it stood at any moment, from its event log alone.

`fold` is a reducer: it applies a session stream's events, in order, to an empty `Wall` and gives
the agenda, the current activity, the notes on the wall (with the activity that produced each),
clusters, vote rounds with their tallies, the cases shared and who had joined. The replay page
and its API read it at a position (a seq); tests compare it with the live state.

What researchers see of it (`for_research`) leaves out what they may never see: hidden and
deleted notes, and notes of participants who chose no research use (their current choice, so a
withdrawal or an erasure takes effect in every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from labs import catalogue, consent, events
from labs.errors import Invalid
from labs.events import Stream
from labs.models import Account, Note, Participant
from labs.runtime import Runtime
from labs.services import grants


@dataclass
class Wall:
    """The state of one session after the events up to `seq`."""

    seq: int = 0
    at: str | None = None
    status: str = "draft"
    activities: dict[int, dict[str, Any]] = field(default_factory=dict)
    current_activity_id: int | None = None
    timer: dict[str, Any] | None = None
    participants: set[int] = field(default_factory=set)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[int, dict[str, Any]] = field(default_factory=dict)
    rounds: dict[int, dict[str, Any]] = field(default_factory=dict)
    # round id -> note id -> votes
    tallies: dict[int, dict[int, int]] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agenda(self) -> list[dict[str, Any]]:
        return sorted(self.activities.values(), key=lambda a: (a["position"], a["id"]))

    def votes_for(self, note_id: int) -> int:
        return sum(t.get(note_id, 0) for t in self.tallies.values())


NOTE_EVENTS = catalogue.NOTE_TYPES
NOTE_FIELDS = (
    "id",
    "body",
    "kind",
    "activity_id",
    "participant_id",
    "case_id",
    "cluster_id",
    "hidden",
    "pinned",
    "deleted",
    "approval",
    "created_at",
)


def apply(wall: Wall, event: dict[str, Any]) -> Wall:
    """One step of the fold: `event` in its stored shape ({"seq", "type", "at", "data"})."""
    kind, data = event["type"], event.get("data") or {}
    wall.seq, wall.at = event["seq"], event["at"]
    if kind in ("session.started", "session.closed"):
        wall.status = data.get("status", "live" if kind == "session.started" else "closed")
        if kind == "session.closed":
            wall.current_activity_id, wall.timer = None, None
    elif kind in ("activity.added", "activity.updated"):
        wall.activities[data["id"]] = dict(data)
    elif kind == "activity.removed":
        wall.activities.pop(data["id"], None)
    elif kind == "activities.reordered":
        for position, activity_id in enumerate(data["order"], start=1):
            if activity_id in wall.activities:
                wall.activities[activity_id]["position"] = position
    elif kind == "activity.activated":
        activity = data["activity"]
        for other in wall.activities.values():
            if other["id"] != activity["id"] and other.get("opened_at") and not other.get("closed_at"):
                other["closed_at"] = event["at"]
        wall.activities[activity["id"]] = dict(activity)
        wall.current_activity_id, wall.timer = activity["id"], data.get("timer")
    elif kind.startswith("timer."):
        wall.timer = dict(data)
    elif kind == "participant.joined":
        # Logs written before the typed catalogue called it "id".
        wall.participants.add(int(data["participant_id"] if "participant_id" in data else data["id"]))
    elif kind == "participant.removed":
        for note_id in data.get("note_ids", []):  # their notes went with them
            if note_id in wall.notes:
                wall.notes[note_id]["deleted"] = True
    elif kind in NOTE_EVENTS:
        note = wall.notes.setdefault(data["id"], {})
        note.update({k: data[k] for k in NOTE_FIELDS if k in data})
    elif kind == "cluster.created":
        wall.clusters[data["id"]] = {"id": data["id"], "name": data["name"], "activity_id": data.get("activity_id")}
    elif kind in ("vote.round_opened", "vote.round_closed", "vote.revealed"):
        wall.rounds[data["id"]] = {k: data.get(k) for k in ("id", "title", "activity_id", "status", "results")}
        wall.tallies.setdefault(data["id"], {})
    elif kind in ("vote.cast", "vote.retracted"):
        tally = wall.tallies.setdefault(data["round_id"], {})
        change = 1 if kind == "vote.cast" else -1
        tally[data["note_id"]] = max(0, tally.get(data["note_id"], 0) + change)
    elif kind == "case.shared":
        case = data.get("case") or {}
        wall.cases.append(
            {
                "case_id": data["case_id"],
                "title": case.get("title"),
                "city": case.get("city"),
                "activity_id": data.get("activity_id"),
                "presenter": data.get("presenter"),
                "at": event["at"],
            }
        )
    return wall


def fold(stream: Iterable[dict[str, Any]], upto: int | None = None) -> Wall:
    """The wall after every event of `stream` up to seq `upto` (all of them when None)."""
    wall = Wall()
    for event in stream:
        if upto is not None and event["seq"] > upto:
            break
        apply(wall, event)
    return wall


# --- what a researcher sees -----------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """The replay page's model: the wall at `seq` as a researcher may see it, and the timeline."""

    session_id: int
    seq: int
    last_seq: int
    at: datetime | None
    wall: Wall
    notes: list[dict[str, Any]]  # on the wall, oldest first, each with "votes"
    left_out: int  # notes at this moment that are hidden, or whose author chose no research use
    nearby: list[dict[str, Any]]  # {"seq", "at", "type"}: the events around this moment
    milestones: list[dict[str, Any]]  # {"seq", "at", "type", "title"}: start, activities, reveals, close


async def _usable(db: Any, note_ids: set[int], participant_ids: set[int]) -> tuple[set[int], set[int]]:
    """Of the notes and people a wall mentions: the notes that still exist (an erasure removes
    them), and the participants whose notes may be used for research."""
    existing: set[int] = set()
    counted: set[int] = set()
    if note_ids:
        existing = set((await db.scalars(select(Note.id).where(Note.id.in_(note_ids)))).all())
    if participant_ids:
        usable = select(Participant.id).where(Participant.id.in_(participant_ids), consent.counted())
        counted = set((await db.scalars(usable)).all())
    return existing, counted


def position(value: Any, last_seq: int) -> int:
    """A replay position: a seq from 0 (before anything happened) to the last one in the log."""
    if value in (None, ""):
        return last_seq
    try:
        seq = int(value)
    except (TypeError, ValueError):
        seq = -1
    if not 0 <= seq <= last_seq:
        raise Invalid(
            "The position must be a number from 0 to %(last)s (the session's last event).",
            {"seq": "A number from 0 to %(last)s."},
            last=last_seq,
        )
    return seq


async def for_research(rt: Runtime, account: Account | None, session_id: int, at: Any = None) -> Moment:
    async with rt.db.read() as db:
        await grants.check(db, account, session_id=session_id)
        log = [events.wire(e) for e in await events.since(db, Stream.session(session_id), 0)]
        last = log[-1]["seq"] if log else 0
        seq = position(at, last)
        wall = fold(log, seq)
        pids = {n["participant_id"] for n in wall.notes.values() if n.get("participant_id") is not None}
        existing, counted = await _usable(db, set(wall.notes), pids)
    shown, left_out = [], 0
    for note in sorted(wall.notes.values(), key=lambda n: n["id"]):
        if note.get("deleted") or note["id"] not in existing:
            continue
        kept_off = note.get("hidden") or note.get("approval", catalogue.APPROVED) != catalogue.APPROVED
        if kept_off or (note.get("participant_id") is not None and note["participant_id"] not in counted):
            left_out += 1
            continue
        shown.append({**note, "votes": wall.votes_for(note["id"])})
    nearby = [_entry(e) for e in log[max(0, seq - NEARBY) : seq + NEARBY]]
    milestones = [_entry(e) for e in log if e["type"] in MILESTONES]
    at = datetime.fromisoformat(wall.at) if wall.at else None
    return Moment(session_id, seq, last, at, wall, shown, left_out, nearby, milestones)


NEARBY = 5
MILESTONES = {"session.started", "activity.activated", "vote.round_opened", "vote.revealed", "session.closed"}


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    """A line of the timeline: seq, time, type and, where the event has one, a title."""
    data = event.get("data") or {}
    title = (data.get("activity") or {}).get("title") if event["type"] == "activity.activated" else data.get("title")
    return {"seq": event["seq"], "at": datetime.fromisoformat(event["at"]), "type": event["type"], "title": title}
