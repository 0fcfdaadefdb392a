"""The one path of a change: state change + event row in one transaction, publish after commit.

Services do::

    async with events.change(rt) as tx:
        tx.db.add(...)
        await tx.emit(Stream.session(session_id), catalogue.NoteAdded(...), actor)

Every event belongs to one stream: a session's (live changes), a case's, an outcome's or a
community's. `emit` takes the stream's next sequence number inside the transaction, so numbers stay
gapless per stream with many writers; the events leave for the channel only once the commit has
succeeded. What each audience may read of an event is decided by `labs.catalogue.view`; `visible`
applies it to a batch with one lookup of the people and notes it refers to."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue
from labs.catalogue import Audience, Payload, Refs
from labs.models import Account, ActorKind, Event, EventStream, LabSession, Note, NoteApproval, Participant, utcnow

if TYPE_CHECKING:
    from labs.runtime import Runtime

log = logging.getLogger(__name__)

STREAM_KINDS = ("session", "case", "outcome", "community", "research")


class Stream(NamedTuple):
    kind: str
    id: int

    @classmethod
    def session(cls, session_id: int) -> Stream:
        return cls("session", session_id)

    @classmethod
    def case(cls, case_id: int) -> Stream:
        return cls("case", case_id)

    @classmethod
    def outcome(cls, outcome_id: int) -> Stream:
        return cls("outcome", outcome_id)

    @classmethod
    def community(cls, community_id: int) -> Stream:
        return cls("community", community_id)

    @classmethod
    def research(cls, session_id: int = 0) -> Stream:
        """Analysis of a session's material (codings, memos), apart from its live stream; 0: the
        codebook and the export log."""
        return cls("research", session_id)

    @property
    def channel(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None

    @classmethod
    def account(cls, account_id: int) -> Actor:
        return cls(ActorKind.account, account_id)

    @classmethod
    def participant(cls, participant_id: int) -> Actor:
        return cls(ActorKind.participant, participant_id)


def wire(event: Event) -> dict[str, Any]:
    """The stored shape of an event, before any audience's view: the channel message. API
    responses and frames pass it through `visible` first."""
    return {
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "data": event.data,
    }


def stream_of(event: Event) -> Stream:
    return Stream(event.stream, event.stream_id)


# Core statements on the tables, not the ORM classes: every change skips the ORM's bulk-update and
# bulk-insert machinery for its counter and its events.
_SESSIONS = cast(Table, LabSession.__table__)
_EVENTS = cast(Table, Event.__table__)
_SESSION_COUNTER = update(_SESSIONS).returning(_SESSIONS.c.last_seq)


def _row(event: Event) -> dict[str, Any]:
    """An event's row for the Core insert: every column but the id the database gives."""
    return {c.key: getattr(event, c.key) for c in _EVENTS.c if not c.primary_key}


class Change:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.events: list[Event] = []
        self.reserved: dict[Stream, list[int]] = {}

    async def reserve(self, stream: Stream, count: int) -> None:
        """Take the next `count` numbers of a session's stream in one statement, for as many emits
        on it that follow in this change (a group of notes): `emit` uses them in order. Numbers
        left unused fail the change, so the stream stays gapless."""
        query = _SESSION_COUNTER.values(last_seq=_SESSIONS.c.last_seq + count).where(_SESSIONS.c.id == stream.id)
        last = int((await self.db.execute(query)).scalar_one())
        self.reserved.setdefault(stream, []).extend(range(last - count + 1, last + 1))

    async def emit(self, stream: Stream, payload: Payload, actor: Actor) -> Event:
        spec = catalogue.spec_of(payload)
        if spec.stream != stream.kind:
            raise ValueError(f"{spec.name} goes on a {spec.stream} stream, not {stream.kind}")
        reserved = self.reserved.get(stream)
        seq = reserved.pop(0) if reserved else await self._next_seq(stream)
        # Not added to the ORM session: `change` writes all of a change's events with one Core
        # insert after the state they describe (flushing them was the largest part of a group
        # commit's profile).
        event = Event(
            stream=stream.kind,
            stream_id=stream.id,
            session_id=stream.id if stream.kind == "session" else None,
            seq=seq,
            type=spec.name,
            data=catalogue.encode(payload),
            actor_kind=actor.kind,
            actor_id=actor.id,
            at=utcnow(),
        )
        self.events.append(event)
        return event

    async def _next_seq(self, stream: Stream) -> int:
        if stream.kind == "session":
            # A session's counter stays on its row: the API reports it as last_seq.
            query: Any = _SESSION_COUNTER.values(last_seq=_SESSIONS.c.last_seq + 1).where(_SESSIONS.c.id == stream.id)
        else:
            insert = pg_insert if self.db.bind.dialect.name == "postgresql" else sqlite_insert
            query = (
                insert(EventStream)
                .values(kind=stream.kind, id=stream.id, last_seq=1)
                .on_conflict_do_update(index_elements=["kind", "id"], set_={"last_seq": EventStream.last_seq + 1})
                .returning(EventStream.last_seq)
            )
        return int((await self.db.execute(query)).scalar_one())


@asynccontextmanager
async def change(rt: Runtime) -> AsyncIterator[Change]:
    async with rt.db.write() as db:
        tx = Change(db)
        yield tx
        if any(tx.reserved.values()):
            raise RuntimeError("sequence numbers were reserved but not used")
        await db.flush()
        if tx.events:
            await db.execute(insert(_EVENTS), [_row(event) for event in tx.events])
    # Committed: only now may anyone hear of it.
    for event in tx.events:
        await rt.publish(stream_of(event), wire(event))


async def since(db: AsyncSession, stream: Stream, after: int, limit: int | None = None) -> list[Event]:
    query = (
        select(Event)
        .where(Event.stream == stream.kind, Event.stream_id == stream.id, Event.seq > after)
        .order_by(Event.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await db.scalars(query)).all())


async def last_seq(db: AsyncSession, stream: Stream) -> int:
    if stream.kind == "session":
        session = await db.get(LabSession, stream.id)
        return session.last_seq if session else 0
    counter = await db.get(EventStream, (stream.kind, stream.id))
    return counter.last_seq if counter else 0


async def refs(db: AsyncSession, wires: Iterable[dict[str, Any]], viewer: int | None = None) -> Refs:
    """One read of the people and notes a batch of events refers to, as the tables hold them now
    (so an erased person or a note hidden since is withheld from every later view)."""
    wires = list(wires)
    pids, aids, nids = catalogue.participant_ids(wires), catalogue.account_ids(wires), catalogue.note_ids(wires)
    found = list((await db.scalars(select(Participant).where(Participant.id.in_(pids)))).all()) if pids else []
    names: dict[int, str] = {}
    if aids:
        rows = await db.execute(select(Account.id, Account.display_name).where(Account.id.in_(aids)))
        names = {account_id: name for account_id, name in rows.all()}
    withheld: frozenset[int] = frozenset()
    erased: frozenset[int] = frozenset()
    waiting: frozenset[int] = frozenset()
    if nids:
        hidden = or_(Note.hidden.is_(True), Note.deleted.is_(True))
        rows = await db.execute(select(Note.id, hidden, Note.approval).where(Note.id.in_(nids)))
        kept = {row[0]: (row[1], row[2]) for row in rows.all()}
        # A note no longer in the table went with its author's erasure: nobody reads its text again.
        erased = frozenset(nids - kept.keys())
        withheld = frozenset(n for n, (hidden, _) in kept.items() if hidden) | erased
        waiting = frozenset(n for n, (_, approval) in kept.items() if approval is not NoteApproval.approved)
    return Refs(
        participants={p.id: p for p in found},
        accounts=names,
        withheld_notes=withheld,
        erased_notes=erased,
        waiting_notes=waiting,
        viewer=viewer,
    )


async def visible(
    db: AsyncSession, wires: Iterable[dict[str, Any]], audience: Audience, viewer: int | None = None
) -> list[dict[str, Any]]:
    """A batch of events as `audience` may read it (API, stream and event log alike); `viewer`:
    the participant reading, whose own notes waiting for approval are theirs to see."""
    wires = list(wires)
    known = await refs(db, wires, viewer)
    return [catalogue.view(w, audience, known) for w in wires]
