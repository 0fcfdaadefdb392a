"""Live delivery: one channel subscription per session per process (a Room), which renders each
event once per audience and hands the result to every local client of that audience.

A client says the last seq it applied; it gets everything after that from the database, then the
live stream, with duplicates dropped by seq. The database is the truth; the channel is a doorbell
that also carries the event, and a gap in what it rings is filled from the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.channels import ChannelsPlugin

from labs import catalogue, events
from labs.catalogue import Audience
from labs.events import Stream
from labs.runtime import Runtime

log = logging.getLogger(__name__)

# Past this many missed events an HTML view reloads its regions instead of replaying each one.
HTML_REPLAY_LIMIT = 300
CATCH_UP_PAGE = 500
CLIENT_QUEUE = 2000
# A caught-up client's frame is written straight to its socket; one whose socket does not take it
# within this time of the event (its buffer is full: a phone on bad Wi-Fi) gets its own pace.
DIRECT_SEND_BUDGET_S = 0.02
# PostgreSQL NOTIFY payloads stop at 8000 bytes: larger events ring only the doorbell.
DOORBELL_ONLY_ABOVE = 7000

# The views a frame is rendered for, and whose eyes each one is (labs.catalogue decides what each
# audience may read of an event). JSON clients get the event; HTML views get fragments.
JSON_FACILITATOR = "json"
JSON_PARTICIPANT = "json-participant"
JSON_AUDIENCES = (JSON_FACILITATOR, JSON_PARTICIPANT)
AUDIENCE_OF = {
    JSON_FACILITATOR: Audience.facilitator,
    JSON_PARTICIPANT: Audience.participant,
    "console": Audience.facilitator,
    "projector": Audience.projector,
    "participant": Audience.participant,
}
# Renders one event's HTML frames: view name -> the event as that view's audience may read it.
Renderer = Callable[[Runtime, int, dict[str, dict[str, Any]]], Awaitable[dict[str, str]]]


@dataclass(eq=False)
class Client:
    audience: str
    send: Callable[[str], Awaitable[None]]
    queue: asyncio.Queue[tuple[int, str] | None] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    sent_seq: int = 0
    overflowed: bool = False
    # True while its pump waits on an empty queue: the room may then write frames itself, which
    # spares waking one task per client per event (the main cost of fanning out to 1,000 phones).
    idle: bool = False
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def write(self, seq: int, frame: str) -> None:
        async with self.sending:
            await self.send(frame)
        self.sent_seq = max(self.sent_seq, seq)

    async def send_now(self, seq: int, frame: str) -> bool:
        """Write the next frame straight away if this client is caught up; False: queue it."""
        if not self.idle or self.sending.locked() or seq != self.sent_seq + 1:
            return False
        try:
            await self.write(seq, frame)
        except Exception:
            # A closed socket: its pump fails on the next write and its connection is closed.
            self.fall_behind()
        return True

    def fall_behind(self) -> None:
        """From now on at its own pace: the pump takes over from the database."""
        self.idle = False
        self.offer_restart()

    def resync(self, after: int) -> None:
        """Send everything after `after` again (the client says it lost what came later)."""
        self.sent_seq = min(self.sent_seq, after)
        self.offer_restart()

    def offer_restart(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def offer(self, seq: int, frame: str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((seq, frame))
        except asyncio.QueueFull:
            # Too slow to keep up: stop feeding it; its pump resynchronises it from the database.
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Room:
    def __init__(self, hub: Hub, session_id: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.clients: set[Client] = set()
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            async with self.hub.channels.start_subscription([Stream.session(self.session_id).channel]) as sub:
                # Subscribed first, then read where the log stands: nothing falls in between.
                async with self.hub.rt.db.read() as db:
                    self.last_seq = await events.last_seq(db, Stream.session(self.session_id))
                self.ready.set()
                async for raw in sub.iter_events():
                    try:
                        await self.receive(json.loads(raw))
                    except Exception:
                        log.exception("live delivery for session %s failed", self.session_id)
        finally:
            self.ready.set()

    async def receive(self, event: dict[str, Any]) -> None:
        async with self.lock:
            seq = event["seq"]
            if seq <= self.last_seq:
                return
            batch = [event]
            if seq > self.last_seq + 1 or "type" not in event:
                # Another process's event overtook one, or only the doorbell rang (the event was too
                # large for the channel): fetch what is missing from the database.
                async with self.hub.rt.db.read() as db:
                    stream = Stream.session(self.session_id)
                    batch = [events.wire(e) for e in await events.since(db, stream, self.last_seq)]
            for item in batch:
                if item["seq"] > self.last_seq:
                    await self.deliver(item)
                    self.last_seq = item["seq"]

    async def deliver(self, event: dict[str, Any]) -> None:
        # A client that arrives while this renders is not in the list: its catch-up from the
        # database (which starts after it registered) already holds this event.
        clients = list(self.clients)
        frames = await self.hub.frames(self.session_id, event, {client.audience for client in clients})
        seq, done = event["seq"], 0
        while done < len(clients):
            try:
                # One timer for the whole run: a write only waits when that socket's buffer is
                # full, and then for no longer than what is left of the budget.
                async with asyncio.timeout(DIRECT_SEND_BUDGET_S):
                    for client in clients[done:]:
                        if not await client.send_now(seq, frames[client.audience]):
                            client.offer(seq, frames[client.audience])
                        done += 1
            except TimeoutError:
                # Nothing was written (uvicorn waits for the socket before it writes a frame).
                clients[done].fall_behind()
                done += 1


class Hub:
    def __init__(self, rt: Runtime, channels: ChannelsPlugin, render_html: Renderer) -> None:
        self.rt = rt
        self.channels = channels
        self.render_html = render_html
        self.rooms: dict[int, Room] = {}
        # (session, seq, audience) -> frame: catch-up of many clients after a venue Wi-Fi drop
        # renders each missed event once, not once per client.
        self._frames: OrderedDict[tuple[int, int, str], str] = OrderedDict()
        # (session, note id) -> seqs of its cached frames: once a note is hidden or deleted, the
        # frames that showed its text must not serve a later catch-up.
        self._note_seqs: dict[tuple[int, int], list[int]] = {}

    async def frames(self, session_id: int, event: dict[str, Any], audiences: set[str]) -> dict[str, str]:
        """The event's frame for each audience, each rendered once (and kept for catch-ups)."""
        seq = event["seq"]
        self._forget_withheld(session_id, event)
        missing = [a for a in audiences if (session_id, seq, a) not in self._frames]
        if missing:
            views = await self._views(event, missing)
            html = {a: v for a, v in views.items() if a not in JSON_AUDIENCES}
            made = await self.render_html(self.rt, session_id, html) if html else {}
            for audience in missing:
                if audience in JSON_AUDIENCES:
                    made[audience] = json.dumps(views[audience])
                self._frames[(session_id, seq, audience)] = made[audience]
        while len(self._frames) > 20_000:
            self._frames.popitem(last=False)
        return {a: self._frames[(session_id, seq, a)] for a in audiences}

    def _forget_withheld(self, session_id: int, event: dict[str, Any]) -> None:
        if event.get("type") not in catalogue.NOTE_TYPES or not isinstance(event["data"].get("id"), int):
            return
        key = (session_id, event["data"]["id"])
        if event["type"] in ("note.hidden", "note.deleted"):
            for seq in self._note_seqs.pop(key, []):
                for audience in AUDIENCE_OF:
                    self._frames.pop((session_id, seq, audience), None)
        self._note_seqs.setdefault(key, []).append(event["seq"])
        while len(self._note_seqs) > 20_000:  # as bounded as the frames it points at
            self._note_seqs.pop(next(iter(self._note_seqs)))

    async def _views(self, event: dict[str, Any], audiences: list[str]) -> dict[str, dict[str, Any]]:
        """The event as each view's audience may read it, with one read of the people and notes it
        names (none for events that name nobody)."""
        known = catalogue.Refs()
        if catalogue.participant_ids([event]) or catalogue.account_ids([event]) or catalogue.note_ids([event]):
            async with self.rt.db.read() as db:
                known = await events.refs(db, [event])
        return {a: catalogue.view(event, AUDIENCE_OF[a], known) for a in audiences}

    async def frame(self, session_id: int, event: dict[str, Any], audience: str) -> str:
        return (await self.frames(session_id, event, {audience}))[audience]

    async def publish(self, stream: Stream, event: dict[str, Any]) -> None:
        # wait_published sends straight through the backend: a failure here is logged by the
        # caller and cannot stop a shared publisher task (litestar issue 5008).
        message = json.dumps(event)
        if len(message) > DOORBELL_ONLY_ABOVE:
            message = json.dumps({"seq": event["seq"]})
        await self.channels.wait_published(message, [stream.channel])

    async def serve(self, session_id: int, client: Client, after: int, on_reset: Callable[[], Awaitable[None]]) -> None:
        """Feed one client until its connection ends: catch up from `after`, then stream."""
        room = self.room(session_id)
        room.clients.add(client)  # before ready: the room is never torn down under a joining client
        await room.ready.wait()
        try:
            client.sent_seq = after
            await self.catch_up(session_id, client, on_reset)
            while True:
                client.idle = client.queue.empty()
                item = await client.queue.get()
                client.idle = False
                if item is None:  # overflowed, too slow or asked to resync: start again from what it has
                    client.overflowed = False
                    await self.catch_up(session_id, client, on_reset)
                    continue
                seq, frame = item
                if seq > client.sent_seq:
                    await client.write(seq, frame)
        finally:
            room.clients.discard(client)
            if not room.clients and room.task:
                room.task.cancel()
                self.rooms.pop(session_id, None)

    def room(self, session_id: int) -> Room:
        room = self.rooms.get(session_id)
        if room is None or room.task is None or room.task.done():
            room = self.rooms[session_id] = Room(self, session_id)
            room.task = asyncio.create_task(room.run(), name=f"room-{session_id}")
        return room

    async def catch_up(self, session_id: int, client: Client, on_reset: Callable[[], Awaitable[None]]) -> None:
        html = client.audience not in JSON_AUDIENCES
        stream = Stream.session(session_id)
        while True:
            async with self.rt.db.read() as db:
                if html:
                    backlog = await events.since(db, stream, client.sent_seq, limit=HTML_REPLAY_LIMIT + 1)
                    if len(backlog) > HTML_REPLAY_LIMIT:
                        client.sent_seq = await events.last_seq(db, stream) or client.sent_seq
                        await on_reset()
                        return
                else:
                    backlog = await events.since(db, stream, client.sent_seq, limit=CATCH_UP_PAGE)
            for event in backlog:
                await client.write(event.seq, await self.frame(session_id, events.wire(event), client.audience))
            if html or len(backlog) < CATCH_UP_PAGE:
                return

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            if room.task:
                room.task.cancel()
        self.rooms.clear()
