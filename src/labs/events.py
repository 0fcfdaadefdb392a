"""The one path of a change: state change + event row in one transaction, publish after commit.

Services do::

    async with events.change(rt) as tx:
        tx.db.add(...)
        await tx.emit(session_id, "note.added", {...}, actor)

`emit` takes the session's next sequence number inside the transaction, so numbers stay gapless
with many writers; the events leave for the channel only once the commit has succeeded."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from labs.models import ActorKind, Event, LabSession

if TYPE_CHECKING:
    from labs.runtime import Runtime

log = logging.getLogger(__name__)


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
    """The public shape of an event: API responses, websocket frames and the channel message."""
    return {
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "data": event.data,
    }


class Change:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.events: list[Event] = []

    async def emit(self, session_id: int, type: str, data: dict[str, Any], actor: Actor) -> Event:
        seq = (
            await self.db.execute(
                update(LabSession)
                .where(LabSession.id == session_id)
                .values(last_seq=LabSession.last_seq + 1)
                .returning(LabSession.last_seq)
            )
        ).scalar_one()
        event = Event(session_id=session_id, seq=seq, type=type, data=data, actor_kind=actor.kind, actor_id=actor.id)
        self.db.add(event)
        self.events.append(event)
        return event


@asynccontextmanager
async def change(rt: Runtime) -> AsyncIterator[Change]:
    async with rt.db.write() as db:
        tx = Change(db)
        yield tx
        await db.flush()
    # Committed: only now may anyone hear of it.
    for event in tx.events:
        await rt.publish(event.session_id, wire(event))


async def since(db: AsyncSession, session_id: int, after: int, limit: int | None = None) -> list[Event]:
    query = select(Event).where(Event.session_id == session_id, Event.seq > after).order_by(Event.seq)
    if limit is not None:
        query = query.limit(limit)
    return list((await db.scalars(query)).all())
