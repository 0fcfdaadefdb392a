"""The moderation log for researchers: who hid, restored, pinned or unpinned which note, approved or
rejected which waiting note (pre-moderation), or removed which participant, when, in the sessions
an account may study (labs.services.grants).

It is read from the session streams of the event log, through the catalogue's researcher view;
there is no second table. A note's text comes from the notes table, as the exports show it: only
while the note may be read for research (its author's consent allows it, and it is neither
hidden nor deleted now); otherwise the entry names the note by its id alone, and a rejected note
(which the catalogue shows researchers nothing of) not at all. A removed
participant appears as their consent says (labs.consent): a pseudonym, a name only if they chose
`named`, and nothing that tells them apart otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from labs import catalogue, consent, events, paging, validate
from labs.catalogue import Audience
from labs.models import Account, Activity, ActorKind, Event, LabSession, Note, Participant
from labs.runtime import Runtime
from labs.services import grants

# The moderation event types: hide, restore, pin and unpin a note; approve or reject one that
# waited under pre-moderation; remove a participant.
_MODERATION = {
    *catalogue.MODERATION_EVENTS.values(),
    catalogue.NoteApproved,
    catalogue.NoteRejected,
    catalogue.ParticipantRemoved,
}
ACTIONS = tuple(spec.name for spec in catalogue.CATALOGUE.values() if spec.payload in _MODERATION)


@dataclass(frozen=True)
class Entry:
    at: datetime
    session_id: int
    session: str
    activity_id: int | None
    activity: str | None
    moderator: str | None  # the staff account's display name (None: not done by an account)
    action: str  # the event type
    note_id: int | None
    note: str | None  # the note's text when consent allows, else None (shown as "note #id")
    # A removal: the participant as consent shows them (None: no research use, or erased since),
    # whether their notes stayed ("keep") or went ("remove"), and how many went.
    participant: consent.Person | None = None
    notes: str | None = None
    removed_notes: int = 0


def session_id_of(value: Any) -> int | None:
    """The log's session filter from a query string; a clear 400 for a bad one."""
    return None if value in (None, "") else validate.integer(value, "session_id")


async def entries(rt: Runtime, account: Account | None, *, session_id: Any = None, page: Any = 1) -> paging.Page[Entry]:
    """One page of the log, newest first, over the account's scope or the one session (an
    ungranted or unknown session: 404)."""
    session = session_id_of(session_id)
    async with rt.db.read() as db:
        scope = await grants.check(db, account, session_id=session)
        query = (
            select(Event, LabSession.title, Account.display_name)
            .join(LabSession, LabSession.id == Event.stream_id)
            .outerjoin(Account, and_(Event.actor_kind == ActorKind.account, Account.id == Event.actor_id))
            .where(Event.stream == "session", Event.type.in_(ACTIONS), scope.session_filter(Event.stream_id))
            .order_by(Event.at.desc(), Event.id.desc())
        )
        if session is not None:
            query = query.where(Event.stream_id == session)
        found = await paging.fetch(db, query, page)
        seen = await events.visible(db, [events.wire(e) for e, _, _ in found.items], Audience.researcher)
        note_ids = {v["data"].get("id") for v in seen} - {None}
        people_ids = {v["data"].get("participant_id") for v in seen if v["type"] == "participant.removed"} - {None}
        people = (
            {p.id: p for p in (await db.scalars(select(Participant).where(Participant.id.in_(people_ids)))).all()}
            if people_ids
            else {}
        )
        activity_ids = {v["data"].get("activity_id") for v in seen} - {None}
        texts = consent.notes().with_only_columns(Note.id, Note.body).where(Note.id.in_(note_ids))
        readable = dict((await db.execute(texts)).tuples().all()) if note_ids else {}
        titles = select(Activity.id, Activity.title).where(Activity.id.in_(activity_ids))
        activities = dict((await db.execute(titles)).tuples().all()) if activity_ids else {}
    shown = consent.for_research(rt.settings)
    rows = []
    for (event, title, moderator), view in zip(found.items, seen, strict=True):
        data = view["data"]
        note_id, activity_id = data.get("id"), data.get("activity_id")
        removal: dict[str, Any] = {}
        if event.type == "participant.removed":
            person = people.get(data["participant_id"])
            removal = {
                "participant": shown.person(person) if person is not None else None,
                "notes": data.get("notes"),
                "removed_notes": len(data.get("note_ids") or []),
            }
        rows.append(
            Entry(
                at=event.at,
                session_id=event.stream_id,
                session=title,
                activity_id=activity_id,
                activity=activities.get(activity_id),
                moderator=moderator,
                action=event.type,
                note_id=note_id,
                note=readable.get(note_id),
                **removal,
            )
        )
    return paging.Page(rows, found.number, found.size, found.total)


def entry_data(entry: Entry) -> dict[str, Any]:
    """An entry in the API's shape."""
    return {
        "at": entry.at.isoformat(),
        "session_id": entry.session_id,
        "session": entry.session,
        "activity_id": entry.activity_id,
        "activity": entry.activity,
        "moderator": entry.moderator,
        "action": entry.action,
        "note_id": entry.note_id,
        "note": entry.note,
        **(
            {
                "participant": entry.participant.key if entry.participant else None,
                "participant_name": entry.participant.name if entry.participant else None,
                "notes": entry.notes,
                "removed_notes": entry.removed_notes,
            }
            if entry.action == "participant.removed"
            else {}
        ),
    }


async def sessions_in_scope(rt: Runtime, account: Account | None) -> list[tuple[int, str]]:
    """The sessions the filter offers: those the account may study, newest first."""
    async with rt.db.read() as db:
        scope = await grants.scope_of(db, account)
        query = (
            select(LabSession.id, LabSession.title)
            .where(scope.session_filter(LabSession.id))
            .order_by(LabSession.starts_at.desc().nulls_last(), LabSession.id.desc())
        )
        return [(i, t) for i, t in (await db.execute(query)).all()]
