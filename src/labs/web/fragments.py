"""What the live views show, as HTML: the state of a session's regions (agenda, current
activity, timer, wall, votes, people) and the out-of-band fragments one event changes.

Three HTML audiences: "console" (facilitators: hidden notes too, moderation controls),
"projector" and "participant" (the public wall). Each event is rendered once per audience by
labs.live.Hub, from the same macros the pages use (templates/live/parts.html)."""

from __future__ import annotations

from typing import Any

from labs.catalogue import REDACTED
from labs.models import LabSession
from labs.runtime import Runtime
from labs.services import cases, notes, polls, sessions, votes
from labs.web.render import fragment

CONSOLE, PROJECTOR, PARTICIPANT = "console", "projector", "participant"
HTML_AUDIENCES = (CONSOLE, PROJECTOR, PARTICIPANT)

REGIONS = ("status", "agenda", "current", "timer", "wall", "votes", "people", "clusters", "cases", "poll", "poll_count")
# Which regions an event type changes (note events change one card; see render_event).
REGIONS_BY_EVENT = {
    "session.started": ("status", "agenda", "current", "timer", "wall"),
    "session.closed": ("status", "agenda", "current", "timer"),
    "session.updated": ("status",),
    "activity.activated": ("agenda", "current", "timer", "wall", "clusters", "poll"),
    "activity.added": ("agenda",),
    "activity.updated": ("agenda", "current"),
    "activity.removed": ("agenda",),
    "activities.reordered": ("agenda",),
    "participant.joined": ("people",),
    "consent.changed": ("people",),
    # An erased person's notes lose their author or go: the wall is drawn again from the tables.
    "participant.erased": ("people", "wall", "clusters", "votes"),
    "cluster.created": ("clusters",),
    "vote.round_opened": ("votes",),
    "vote.cast": ("votes",),
    "vote.retracted": ("votes",),
    "vote.round_closed": ("votes",),
    "vote.revealed": ("votes",),
    "case.shared": ("cases",),
    "poll.created": ("agenda", "poll"),
    "poll.opened": ("poll",),
    "poll.closed": ("poll",),
    "poll.revealed": ("poll",),
    "poll.answered": ("poll_count",),
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


async def state(
    rt: Runtime, session_id: int, regions: tuple[str, ...] | None = None, only: notes.WallFilter | None = None
) -> dict[str, Any]:
    """Everything the regions need (only what `regions` asks for, when given), for every audience:
    the wall (its first page, or what the console's filter `only` lets through) holds hidden notes
    too, and the templates show them to the console only."""
    session: LabSession = await sessions.get(rt, session_id)
    want = set(regions or REGIONS)
    current = next((a for a in session.activities if a.id == session.current_activity_id), None)
    ctx: dict[str, Any] = {"session": session, "current": current, "timer": sessions.timer_data(session)}
    if want & {"wall", "clusters"} or regions is None:
        ctx["clusters"] = {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)}
    if "wall" in want:
        only = only or notes.WallFilter()
        ctx["notes"] = (
            await notes.page(rt, session_id, activity_id=current.id, include_hidden=True, only=only) if current else []
        )
        ctx["only"] = only
    if "votes" in want:
        ctx["vote"] = await votes.state(rt, session_id)
    if "people" in want:
        ctx["people"] = await sessions.participant_count(rt, session_id)
    if "cases" in want:
        ctx["cases"] = await cases.shared_in(rt, session_id)
    if want & {"poll", "poll_count"}:
        ctx["poll"] = await polls.state(rt, session_id)
    ctx["regions"] = [r for r in REGIONS if r in want]
    return ctx


async def older(
    rt: Runtime, session_id: int, audience: str, before: int, only: notes.WallFilter | None = None
) -> dict[str, Any]:
    """The page of notes before note `before`, for the paging below a live wall."""
    session = await sessions.get(rt, session_id)
    found = await notes.page(
        rt,
        session_id,
        activity_id=session.current_activity_id,
        include_hidden=audience == CONSOLE,
        only=only or notes.WallFilter(),
        before=before,
        limit=notes.PAGE + 1,
    )
    clusters = {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)}
    return {
        "session": session,
        "audience": audience,
        "notes": found[: notes.PAGE],
        "more": len(found) > notes.PAGE,
        "clusters": clusters,
    }


def visible(note: dict[str, Any], audience: str) -> bool:
    return not note.get("deleted") and (audience == CONSOLE or not note.get("hidden"))


async def render_event(rt: Runtime, session_id: int, views: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The frame of one event for each view, from what that view's audience may read of it
    (labs.catalogue.view) and one read of the regions it changed."""
    kind = next((v["type"] for v in views.values() if v["type"] != REDACTED), REDACTED)
    ctx: dict[str, Any] = {"regions": []}
    if any(v["type"] in NOTE_EVENTS for v in views.values()):
        ctx = {
            "session": await sessions.get(rt, session_id),
            "regions": [],
            "clusters": {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)},
        }
    elif kind in REGIONS_BY_EVENT:
        ctx = await state(rt, session_id, REGIONS_BY_EVENT[kind])
    frames = {}
    for audience, seen in views.items():
        if seen["type"] == REDACTED:  # not for these eyes: only the seq moves on
            frames[audience] = _frame(seen["seq"], REDACTED, audience, {"regions": [], "note": None})
            continue
        note = seen["data"] if seen["type"] in NOTE_EVENTS else None
        frames[audience] = _frame(seen["seq"], seen["type"], audience, {**ctx, "note": note})
    return frames


def _frame(seq: int, kind: str, audience: str, ctx: dict[str, Any]) -> str:
    note: dict[str, Any] | None = ctx.get("note")
    on_wall = note is not None and note["activity_id"] == ctx["session"].current_activity_id and visible(note, audience)
    return fragment("live/stream.html", "frame", seq=seq, event_type=kind, audience=audience, on_wall=on_wall, **ctx)


async def snapshot(rt: Runtime, session_id: int, audience: str) -> str:
    """Every region at once, out of band: a view that fell too far behind starts over from this."""
    ctx = await state(rt, session_id)
    return _frame(ctx["session"].last_seq, "snapshot", audience, ctx)
