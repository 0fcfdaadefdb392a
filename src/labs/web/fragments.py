"""What the live views show, as HTML: the state of a session's regions (agenda, current
activity, timer, wall, votes, people) and the out-of-band fragments one event changes.

Three HTML audiences: "console" (facilitators: hidden notes too, moderation controls),
"projector" and "participant" (the public wall). Each event is rendered once per audience by
labs.live.Hub, from the same macros the pages use (templates/live/parts.html)."""

from __future__ import annotations

from typing import Any

from labs.models import LabSession
from labs.runtime import Runtime
from labs.services import cases, notes, sessions, votes
from labs.web.render import fragment

CONSOLE, PROJECTOR, PARTICIPANT = "console", "projector", "participant"
HTML_AUDIENCES = (CONSOLE, PROJECTOR, PARTICIPANT)

REGIONS = ("status", "agenda", "current", "timer", "wall", "votes", "people", "clusters", "cases")
# Which regions an event type changes (note events change one card; see render_event).
REGIONS_BY_EVENT = {
    "session.started": ("status", "agenda", "current", "timer", "wall"),
    "session.closed": ("status", "agenda", "current", "timer"),
    "session.updated": ("status",),
    "activity.activated": ("agenda", "current", "timer", "wall", "clusters"),
    "activity.added": ("agenda",),
    "activity.updated": ("agenda", "current"),
    "activity.removed": ("agenda",),
    "activities.reordered": ("agenda",),
    "participant.joined": ("people",),
    "consent.changed": ("people",),
    "cluster.created": ("clusters",),
    "vote.round_opened": ("votes",),
    "vote.cast": ("votes",),
    "vote.retracted": ("votes",),
    "vote.round_closed": ("votes",),
    "vote.revealed": ("votes",),
    "case.shared": ("cases",),
}
NOTE_EVENTS = {
    "note.added",
    "note.edited",
    "note.deleted",
    "note.hidden",
    "note.restored",
    "note.pinned",
    "note.unpinned",
    "note.clustered",
}


async def state(rt: Runtime, session_id: int, audience: str, regions: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Everything the regions need (only what `regions` asks for, when given)."""
    session: LabSession = await sessions.get(rt, session_id)
    want = set(regions or REGIONS)
    current = next((a for a in session.activities if a.id == session.current_activity_id), None)
    ctx: dict[str, Any] = {
        "session": session,
        "current": current,
        "audience": audience,
        "timer": sessions.timer_data(session),
    }
    if want & {"wall", "clusters"}:
        ctx["clusters"] = {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)}
    if "wall" in want:
        ctx["notes"] = (
            await notes.wall(
                rt, session_id, include_hidden=audience == CONSOLE, activity_id=current.id if current else None
            )
            if current
            else []
        )
    if "votes" in want:
        ctx["vote"] = await votes.state(rt, session_id)
    if "people" in want:
        ctx["people"] = await sessions.participant_count(rt, session_id)
    if "cases" in want:
        ctx["cases"] = await cases.shared_in(rt, session_id)
    ctx["regions"] = [r for r in REGIONS if r in want]
    return ctx


def _visible(note: dict[str, Any], audience: str) -> bool:
    return not note["deleted"] and (audience == CONSOLE or not note["hidden"])


async def render_event(rt: Runtime, session_id: int, event: dict[str, Any], audience: str) -> str:
    kind = event["type"]
    ctx: dict[str, Any]
    if kind in NOTE_EVENTS:
        note = event["data"]
        session = await sessions.get(rt, session_id)
        on_wall = note["activity_id"] == session.current_activity_id and _visible(note, audience)
        ctx = {
            "audience": audience,
            "session": session,
            "note": note,
            "on_wall": on_wall,
            "regions": [],
            "clusters": {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)},
        }
    elif kind in REGIONS_BY_EVENT:
        ctx = await state(rt, session_id, audience, REGIONS_BY_EVENT[kind])
    else:
        ctx = {"audience": audience, "regions": []}
    return fragment("live/stream.html", "frame", seq=event["seq"], event_type=kind, oob=True, **ctx)


async def snapshot(rt: Runtime, session_id: int, audience: str) -> str:
    """Every region at once, out of band: a view that fell too far behind starts over from this."""
    ctx = await state(rt, session_id, audience)
    return fragment("live/stream.html", "frame", seq=ctx["session"].last_seq, event_type="snapshot", oob=True, **ctx)
