"""What the live views show, as HTML: the state of a session's regions (agenda, current
activity, timer, wall, votes, people) and the out-of-band fragments one event changes.

Three HTML audiences: "console" (facilitators: hidden notes too, moderation controls),
"projector" and "participant" (the public wall). Each event is rendered once per audience by
labs.live.Hub, from the same macros the pages use (templates/live/parts.html)."""

from __future__ import annotations

from typing import Any

from labs.catalogue import APPROVED, NOTE_TYPES, REDACTED
from labs.models import LabSession
from labs.runtime import Runtime
from labs.services import cases, notes, participants, polls, sessions, votes
from labs.web.render import fragment

CONSOLE, PROJECTOR, PARTICIPANT = "console", "projector", "participant"
HTML_AUDIENCES = (CONSOLE, PROJECTOR, PARTICIPANT)

REGIONS = (
    "status",
    "agenda",
    "current",
    "timer",
    "wall",
    "votes",
    "people",
    "roster",
    "queue",
    "clusters",
    "cases",
    "poll",
    "poll_count",
)
# Regions only the console shows (its count of people, who is here, the approval queue); the
# room's own views (projector, phones) show the rest.
CONSOLE_REGIONS = {"people", "roster", "queue"}
ROOM_REGIONS = tuple(r for r in REGIONS if r not in CONSOLE_REGIONS)
# Which regions an event type changes (note events change one card; see render).
REGIONS_BY_EVENT = {
    "session.started": ("status", "agenda", "current", "timer", "wall"),
    "session.closed": ("status", "agenda", "current", "timer"),
    "session.updated": ("status",),
    "activity.activated": ("agenda", "current", "timer", "wall", "clusters", "poll"),
    "activity.added": ("agenda",),
    "activity.updated": ("agenda", "current"),
    "activity.removed": ("agenda",),
    "activities.reordered": ("agenda",),
    "participant.joined": ("people", "roster"),
    "consent.changed": ("people",),
    # An erased person's notes lose their author or go: the wall is drawn again from the tables.
    "participant.erased": ("people", "roster", "wall", "clusters", "votes"),
    # A removed person's notes that went leave as cards (note_ids), like deleted ones.
    "participant.removed": ("people", "roster", "queue"),
    # The console's queue of notes waiting for approval (pre-moderation).
    "note.submitted": ("queue",),
    "note.approved": ("queue",),
    "note.rejected": ("queue",),
    "note.edited": ("queue",),
    "note.deleted": ("queue",),
    "session.premoderation_changed": ("status", "queue"),
    "cluster.created": ("clusters",),
    "vote.round_opened": ("votes",),
    "vote.cast": ("votes",),
    "vote.retracted": ("votes",),
    "vote.round_closed": ("votes",),
    "vote.revealed": ("votes",),
    "case.shared": ("cases",),
    "poll.created": ("agenda", "poll"),
    "poll.redefined": ("agenda", "poll"),
    "poll.removed": ("agenda", "poll"),
    "poll.opened": ("poll",),
    "poll.closed": ("poll",),
    "poll.revealed": ("poll",),
    "poll.answered": ("poll_count",),
}
NOTE_EVENTS = NOTE_TYPES


async def state(
    rt: Runtime,
    session_id: int,
    regions: tuple[str, ...] | None = None,
    only: notes.WallFilter | None = None,
    people_page: Any = 1,
    queue_page: Any = 1,
) -> dict[str, Any]:
    """Everything the regions need (only what `regions` asks for, when given), for every audience:
    the wall (its first page, or what the console's filter `only` lets through) holds hidden notes
    too, and the templates show them to the console only; the roster (the console's list of who
    is in the session) is page `people_page`, newest first; the queue (notes waiting for approval)
    page `queue_page`, oldest first."""
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
    if "roster" in want:
        ctx["roster"] = await participants.roster(rt, session_id, people_page)
    if "queue" in want:
        ctx["queue"] = await notes.waiting(rt, session_id, queue_page)
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
    """On that audience's wall (notes waiting for approval are in the console's queue and on their
    author's phone apart from the wall)."""
    shown = note.get("approval", APPROVED) == APPROVED
    return shown and not note.get("deleted") and (audience == CONSOLE or not note.get("hidden"))


async def render(rt: Runtime, session_id: int, batch: list[dict[str, dict[str, Any]]]) -> dict[str, str]:
    """One frame per view key ("participant:nl") for a batch of events, each event as that view's
    audience may read it (labs.catalogue.view; per event: key -> view). Notes render from what
    their events carry; the regions the batch changed are read once, as they stand now, and
    rendered once per view and language."""
    keys = list(batch[0]) if batch else []
    regions = {
        r
        for event in batch
        for v in event.values()
        if v["type"] != REDACTED
        for r in REGIONS_BY_EVENT.get(v["type"], ())
    }
    if not any(key.startswith(CONSOLE) for key in keys):
        regions -= CONSOLE_REGIONS  # nobody here shows them: not read at all (a join storm)
    has_notes = any(v["type"] in NOTE_EVENTS for event in batch for v in event.values())
    ctx: dict[str, Any] = {"regions": []}
    if regions:
        ctx = await state(rt, session_id, tuple(r for r in REGIONS if r in regions or (has_notes and r == "clusters")))
    elif has_notes:
        ctx = {
            "session": await sessions.get(rt, session_id),
            "regions": [],
            "clusters": {c["id"]: c["name"] for c in await notes.clusters(rt, session_id)},
        }
    frames = {}
    for key in keys:
        audience, lang = key.partition("~")[0].split(":")
        seen = [event[key] for event in batch if event[key]["type"] != REDACTED]
        # The last event of each note is its state at the end of the batch: one card each.
        latest = {v["data"]["id"]: v["data"] for v in seen if v["type"] in NOTE_EVENTS}
        for v in seen:
            if v["type"] == "participant.removed":  # their notes went: the cards go
                latest.update({n: {"id": n, "activity_id": None, "deleted": True} for n in v["data"]["note_ids"]})
        approved = {v["data"]["id"] for v in seen if v["type"] == "note.approved"}
        mine = {r for v in seen for r in REGIONS_BY_EVENT.get(v["type"], ())}
        cards = [(n, _place(n, audience, ctx, n["id"] in approved)) for n in latest.values()]
        frames[key] = _frame(
            batch[-1][key]["seq"], audience, lang, {**ctx, "regions": [r for r in ctx["regions"] if r in mine]}, cards
        )
    return frames


def _place(note: dict[str, Any], audience: str, ctx: dict[str, Any], approved: bool) -> str:
    """Where a note's card goes in a frame: "wall" (upserted there; "approved": also out of its
    author's waiting list), "mine" (the author's own waiting or rejected note, in their list
    apart from the wall) or "gone" (its card leaves)."""
    if note["activity_id"] == ctx["session"].current_activity_id and visible(note, audience):
        return "approved" if approved and audience == PARTICIPANT else "wall"
    waiting = note.get("approval", APPROVED) != APPROVED and "body" in note
    return "mine" if waiting and audience == PARTICIPANT and not note.get("deleted") else "gone"


def _frame(seq: int, audience: str, lang: str, ctx: dict[str, Any], cards: list[tuple[dict[str, Any], str]]) -> str:
    return fragment("live/stream.html", "frame", seq=seq, audience=audience, lang=lang, cards=cards, **ctx)


def removed_notice(lang: str) -> str:
    """The last frame a removed participant's page gets: the notice in place of the page."""
    return fragment("live/removed.html", "frame", lang=lang, title=None)


async def snapshot(rt: Runtime, session_id: int, audience: str, lang: str) -> str:
    """Every region at once, out of band: a view that fell too far behind starts over from this."""
    ctx = await state(rt, session_id)
    return _frame(ctx["session"].last_seq, audience, lang, ctx, [])
