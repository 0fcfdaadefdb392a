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
from labs.shared import Memory, Shared

log = logging.getLogger(__name__)

Publisher = Callable[[Stream, dict[str, Any]], Awaitable[None]]


async def _nowhere(_stream: Stream, _event: dict[str, Any]) -> None:
    """The CLI has no listeners: clients that connect later catch up from the database."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    publisher: Publisher = field(default=_nowhere)
    # What the processes of a deployment share (labs.shared): rate limits, who is behind a token.
    shared: Shared = field(default_factory=Memory)
    limits: Limits = field(init=False)
    # Group commits of this process by what they write (labs.groupcommit): "notes".
    groups: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.limits = Limits(self.shared)

    async def publish(self, stream: Stream, event: dict[str, Any]) -> None:
        # A failed publish must not fail the (already committed) change: clients fill gaps from the db.
        try:
            await self.publisher(stream, event)
        except Exception:
            log.exception("publishing event %s of %s failed", event.get("seq"), stream.channel)
