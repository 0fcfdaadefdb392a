"""What services need at run time: the database and the way events leave the process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from labs.db import Database
from labs.events import Stream
from labs.ratelimit import Limits
from labs.settings import Settings

log = logging.getLogger(__name__)

Publisher = Callable[[Stream, dict[str, Any]], Awaitable[None]]


async def _nowhere(_stream: Stream, _event: dict[str, Any]) -> None:
    """The CLI has no listeners: clients that connect later catch up from the database."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    publisher: Publisher = field(default=_nowhere)
    limits: Limits = field(default_factory=Limits)
    # Participant token digest -> (expiry, participant): every post and page asks who is asking.
    participants_by_token: dict[str, tuple[float, Any]] = field(default_factory=dict)

    async def publish(self, stream: Stream, event: dict[str, Any]) -> None:
        # A failed publish must not fail the (already committed) change: clients fill gaps from the db.
        try:
            await self.publisher(stream, event)
        except Exception:
            log.exception("publishing event %s of %s failed", event.get("seq"), stream.channel)
