"""Live delivery: one channel subscription per session per process (a Room), which renders what
arrived once per view and language and hands the result to every local client of that view.

A client says the last seq it applied; it gets everything after that from the database, then the
live stream, with duplicates dropped by seq. The database is the truth; the channel is a doorbell
that also carries the event, and a gap in what it rings is filled from the database.

Events are delivered in batches: whatever arrived while the room was busy sending the last batch
(or within WINDOW_S of its start) goes out together, in seq order, as one frame per client (HTML
views get the out-of-band fragments of all of them; JSON clients that asked for `batch=1` get
{"events": [...]}; other JSON clients one frame per event). A quiet session's event leaves at
once. The work of a burst then grows with the number of clients, not clients x events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections import OrderedDict, deque
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
# At most this many events in one frame (a catch-up of 500 is five frames).
FRAME_EVENTS = 100
# A batch leaves at the earliest this long after the previous one started: under a burst the room
# sends 20 frames a second to each client, each holding what came in meanwhile.
WINDOW_S = 0.05
# A caught-up client's frame is written straight to its socket; one whose socket does not take it
# within this time of the batch (its buffer is full: a phone on bad Wi-Fi) gets its own pace.
DIRECT_SEND_BUDGET_S = 0.02
# A client at its own pace may hold this much undelivered before it is caught up from the
# database instead, and may take this long over one frame before it is dropped (it reconnects
# with its last seq and resumes): a subscriber that never reads costs a bounded amount and no one
# else's time.
CLIENT_BACKLOG_BYTES = 1 << 20
CLIENT_QUEUE = 500
SLOW_WRITE_S = 10.0
# PostgreSQL NOTIFY payloads stop at 8000 bytes: larger events ring only the doorbell.
DOORBELL_ONLY_ABOVE = 7000
FRAME_CACHE = 200
SNAPSHOTS = 20
# Each room keeps the last events it received: a client that comes back after a venue Wi-Fi
# drop or a restart catches up from memory instead of each reading its backlog from the
# database (1,000 phones reconnecting at once would be 1,000 reads of the same rows).
RECENT_EVENTS = 1000
# Each room also reads where its log stands this often, and the channel's listener is restarted
# when it has stopped: events reach the clients even while Redis or PostgreSQL restarts, if later.
WATCH_S = 1.0

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
# A view key of one participant's own frames: "participant:nl~17".
VIEWER = "~"


def split_key(key: str) -> tuple[str, int | None]:
    """A view key's view ("participant", "json", …) and the participant whose own frames it keys."""
    base, _, viewer = key.partition(VIEWER)
    return base.split(":")[0], int(viewer) if viewer else None


# Renders a batch of events for HTML views: per event, view key ("participant:nl") -> the event
# as that view's audience may read it; returns view key -> one frame for the whole batch.
Renderer = Callable[[Runtime, int, list[dict[str, dict[str, Any]]]], Awaitable[dict[str, str]]]


class TooSlow(Exception):
    """A client whose socket did not take a frame within SLOW_WRITE_S: it is dropped."""


class Removed(Exception):
    """A participant's client whose participant a facilitator removed: it is closed, for good."""


@dataclass(frozen=True)
class Frames:
    """Events first..last of a session as one view receives them: one text, or (JSON clients
    without batch=1) one text per event."""

    first: int
    last: int
    texts: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(len(t) for t in self.texts)


@dataclass(eq=False)
class Client:
    audience: str  # the view: console, projector, participant, json or json-participant
    send: Callable[[str], Awaitable[None]]
    lang: str = "en"
    # JSON clients: several events per frame ({"events": [...]}), asked for with ?batch=1.
    # HTML views always get one frame per batch (its fragments are applied in order).
    batch: bool = False
    participant_id: int | None = None  # whose phone or token this is (participants' clients)
    removed: bool = False
    queue: asyncio.Queue[Frames | None] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    queued_bytes: int = 0
    sent_seq: int = 0
    overflowed: bool = False
    # True while its pump waits on an empty queue: the room may then write frames itself, which
    # spares waking one task per client per batch (the main cost of fanning out to 1,000 phones).
    idle: bool = False
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def key(self) -> str:
        """What its frames are rendered for: the view, in the client's language for HTML, and
        whether JSON comes batched."""
        if self.audience in JSON_AUDIENCES:
            return f"{self.audience}:batch" if self.batch else self.audience
        return f"{self.audience}:{self.lang}"

    def key_in(self, personal: set[int]) -> str:
        """The key of its frames for a batch: a participant who reads the batch differently from
        the rest of the room (their own notes waiting for approval) gets frames of their own."""
        return f"{self.key}{VIEWER}{self.participant_id}" if self.participant_id in personal else self.key

    async def write(self, frames: Frames) -> None:
        async with self.sending:
            for text in frames.texts:
                await self.send(text)
        self.sent_seq = max(self.sent_seq, frames.last)

    async def send_now(self, frames: Frames) -> bool:
        """Write the next frames straight away if this client is caught up; False: queue them."""
        if not self.idle or self.sending.locked() or frames.first != self.sent_seq + 1:
            return False
        try:
            await self.write(frames)
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

    def remove(self) -> None:
        """Its participant was removed: the pump stops at its next turn and the socket closes."""
        self.removed = True
        self.idle = False
        self.offer_restart()

    def offer_restart(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def offer(self, frames: Frames) -> None:
        if self.overflowed:
            return
        try:
            if self.queued_bytes + frames.size > CLIENT_BACKLOG_BYTES:
                raise asyncio.QueueFull
            self.queue.put_nowait(frames)
            self.queued_bytes += frames.size
        except asyncio.QueueFull:
            # Too slow to keep up: stop feeding it; its pump resynchronises it from the database.
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queued_bytes = 0
            self.queue.put_nowait(None)

    def take(self, frames: Frames) -> None:
        self.queued_bytes = max(0, self.queued_bytes - frames.size)


class Room:
    def __init__(self, hub: Hub, session_id: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.clients: set[Client] = set()
        self.last_seq = 0  # received, in order (delivered, or waiting in `pending`)
        self.pending: list[dict[str, Any]] = []
        # The newest events received, contiguous and ending at last_seq (may start empty).
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.filling = asyncio.Lock()
        self.wake = asyncio.Event()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def run(self) -> None:
        sender = asyncio.create_task(self.send_batches(), name=f"room-{self.session_id}-send")
        try:
            while True:
                try:
                    channel = self.hub.channel(Stream.session(self.session_id))
                    async with self.hub.channels.start_subscription([channel]) as sub:
                        # Subscribed first, then read where the log stands: nothing falls in between.
                        await self.check()
                        async for raw in sub.iter_events():
                            try:
                                await self.receive(json.loads(raw))
                            except Exception:
                                log.exception("live delivery for session %s failed", self.session_id)
                except Exception:
                    # The channel is down (Redis or PostgreSQL restarting): the clients keep what
                    # they have, the watch reads new events from the log meanwhile, and the room
                    # subscribes again.
                    log.warning("channel of session %s failed; subscribing again", self.session_id, exc_info=True)
                    if not self.ready.is_set():
                        await self.check()
                    await asyncio.sleep(WATCH_S)
        finally:
            sender.cancel()
            self.ready.set()

    async def check(self) -> None:
        """Read where the log stands: the first time, that is where the room starts; later, what
        the channel did not ring (it was down, or a message was lost) is fetched and delivered."""
        async with self.hub.rt.db.read() as db:
            last = await events.last_seq(db, Stream.session(self.session_id))
        if not self.ready.is_set():
            self.last_seq = last
            self.ready.set()
        elif last > self.last_seq:
            await self.receive({"seq": last})

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
                    self.pending.append(item)
                    self.recent.append(item)
                    self.last_seq = item["seq"]
            self.wake.set()

    def since(self, after: int, limit: int) -> list[dict[str, Any]] | None:
        """Up to `limit` events after `after` from memory; None when memory does not reach back
        that far (the caller reads the database)."""
        if after >= self.last_seq:
            return []
        first = self.recent[0]["seq"] if self.recent else self.last_seq + 1
        if after + 1 < first:
            return None
        start = after + 1 - first
        return [self.recent[i] for i in range(start, min(len(self.recent), start + limit))]

    def keep(self, wires: list[dict[str, Any]]) -> None:
        """Events read from the database that end right where memory begins: remember them too."""
        first = self.recent[0]["seq"] if self.recent else self.last_seq + 1
        if not wires or wires[-1]["seq"] != first - 1 or len(self.recent) + len(wires) > RECENT_EVENTS:
            return
        self.recent.extendleft(reversed(wires))

    async def send_batches(self) -> None:
        started = 0.0
        while True:
            await self.wake.wait()
            # Whatever else arrives before the window is up goes in the same batch.
            await asyncio.sleep(max(0.0, started + WINDOW_S - time.monotonic()))
            self.wake.clear()
            batch, self.pending = self.pending[:FRAME_EVENTS], self.pending[FRAME_EVENTS:]
            if self.pending:
                self.wake.set()
            if not batch:
                continue
            started = time.monotonic()
            try:
                await self.deliver(batch)
            except Exception:
                # The clients notice the gap on the next batch and catch up from the database.
                log.exception("live delivery for session %s failed", self.session_id)

    async def deliver(self, batch: list[dict[str, Any]]) -> None:
        # A client that arrives while this renders is not in the list: its catch-up from the
        # database (which starts after it registered) already holds these events.
        gone = {e["data"]["participant_id"] for e in batch if e.get("type") == "participant.removed"}
        for client in [c for c in self.clients if c.participant_id is not None and c.participant_id in gone]:
            client.remove()
        clients = [c for c in self.clients if not c.removed]
        personal = catalogue.personal_ids(batch)
        frames = await self.hub.frames(self.session_id, batch, {client.key_in(personal) for client in clients})
        done = 0
        while done < len(clients):
            try:
                # One timer for the whole run: a write only waits when that socket's buffer is
                # full, and then for no longer than what is left of the budget.
                async with asyncio.timeout(DIRECT_SEND_BUDGET_S):
                    for client in clients[done:]:
                        mine = frames[client.key_in(personal)]
                        if not await client.send_now(mine):
                            client.offer(mine)
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
        # (session, first seq, last seq) -> view key -> frames: a catch-up of many clients after a
        # venue Wi-Fi drop renders each missed stretch once per view, not once per client.
        self._frames: OrderedDict[tuple[int, int, int], dict[str, Frames]] = OrderedDict()
        self._rendering: dict[tuple[tuple[int, int, int], str], asyncio.Future[dict[str, Frames]]] = {}
        # (session, view key, seq) -> the whole-page frame of a view that fell too far behind.
        self._snapshots: OrderedDict[tuple[int, str, int], asyncio.Task[str]] = OrderedDict()
        self._watching: asyncio.Task[None] | None = None

    async def frames(self, session_id: int, batch: list[dict[str, Any]], keys: set[str]) -> dict[str, Frames]:
        """The batch's frames for each view key, each rendered once (and kept for catch-ups)."""
        if any(
            e.get("type") in ("note.hidden", "note.deleted", "participant.erased", "participant.removed")
            or (e.get("data") or {}).get("left_wall")
            for e in batch
        ):
            # Frames that showed those notes' text (or its author) must not serve a later catch-up.
            for cached in [k for k in self._frames if k[0] == session_id]:
                del self._frames[cached]
        span = (session_id, batch[0]["seq"], batch[-1]["seq"])
        made = self._frames.setdefault(span, {})
        self._frames.move_to_end(span)
        found = {k: made[k] for k in keys if k in made}
        # Clients reconnecting together ask for the same stretch at the same moment: the first
        # renders it, the others wait for that rendering instead of each doing it again.
        waits = {self._rendering[(span, k)] for k in keys if k not in found and (span, k) in self._rendering}
        mine = [k for k in keys if k not in found and (span, k) not in self._rendering]
        if mine:
            done: asyncio.Future[dict[str, Frames]] = asyncio.get_running_loop().create_future()
            self._rendering.update({(span, k): done for k in mine})
            try:
                rendered = await self._render(session_id, batch, mine)
                done.set_result(rendered)
            except BaseException as error:
                done.set_exception(error)
                done.exception()  # its waiters get it; no one else needs to be told
                raise
            finally:
                for k in mine:
                    self._rendering.pop((span, k), None)
            made.update(rendered)
            found.update(rendered)
        for wait in waits:
            found.update({k: v for k, v in (await wait).items() if k in keys})
        while len(self._frames) > FRAME_CACHE:
            self._frames.popitem(last=False)
        return found

    async def snapshot(self, session_id: int, key: str, make: Callable[[], Awaitable[str]]) -> str:
        """The full frame `make` renders for a view that fell too far behind, made once per view
        and seq however many clients of that view need it (a room of phones after a long drop)."""
        async with self.rt.db.read() as db:
            seq = await events.last_seq(db, Stream.session(session_id))
        wanted = (session_id, key, seq)
        task = self._snapshots.get(wanted)
        if task is None or (task.done() and task.exception() is not None):
            task = self._snapshots[wanted] = asyncio.ensure_future(make())
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
        # Shielded: one client leaving does not cancel the rendering the others wait for.
        return await asyncio.shield(task)

    async def _render(self, session_id: int, batch: list[dict[str, Any]], keys: list[str]) -> dict[str, Frames]:
        views = await self._views(batch, keys)
        first, last = batch[0]["seq"], batch[-1]["seq"]
        out: dict[str, Frames] = {}
        html = [k for k in keys if split_key(k)[0] not in JSON_AUDIENCES]
        if html:
            rendered = await self.render_html(self.rt, session_id, [{k: v[k] for k in html} for v in views])
            out.update({k: Frames(first, last, (rendered[k],)) for k in html})
        for key in keys:
            if key in html:
                continue
            texts = [json.dumps(v[key]) for v in views]
            joined = ('{"events": [' + ", ".join(texts) + "]}",) if ":batch" in key else tuple(texts)
            out[key] = Frames(first, last, joined)
        return out

    async def _views(self, batch: list[dict[str, Any]], keys: list[str]) -> list[dict[str, dict[str, Any]]]:
        """Each event as each view's audience may read it, with one read of the people and notes
        the whole batch names (none when it names nobody)."""
        known = catalogue.Refs()
        if catalogue.participant_ids(batch) or catalogue.account_ids(batch) or catalogue.note_ids(batch):
            async with self.rt.db.read() as db:
                known = await events.refs(db, batch)
        readers = {(AUDIENCE_OF[view], viewer) for view, viewer in map(split_key, keys)}
        refs = {viewer: dataclasses.replace(known, viewer=viewer) for _, viewer in readers}
        seen = [{r: catalogue.view(event, r[0], refs[r[1]]) for r in readers} for event in batch]
        return [{k: by_reader[AUDIENCE_OF[split_key(k)[0]], split_key(k)[1]] for k in keys} for by_reader in seen]

    async def watch(self) -> None:
        """The rooms' safety net (the database is the truth, the channel only a doorbell)."""
        while self.rooms:
            await asyncio.sleep(WATCH_S)
            self._revive_listener()
            for room in list(self.rooms.values()):
                if room.ready.is_set():
                    try:
                        await room.check()
                    except Exception:
                        log.warning("reading the log of session %s failed", room.session_id, exc_info=True)

    def _revive_listener(self) -> None:
        # The channels plugin reads the backend in one task, which ends for good when the backend
        # fails (Redis went away); once it can be read again, a new one takes over.
        task = self.channels._sub_task
        if task is not None and task.done():
            log.warning("the channel listener stopped; starting it again")
            self.channels._sub_task = asyncio.create_task(self.channels._sub_worker())

    async def publish(self, stream: Stream, event: dict[str, Any]) -> None:
        # wait_published sends straight through the backend: a failure here is logged by the
        # caller and cannot stop a shared publisher task (litestar issue 5008).
        message = json.dumps(event)
        if len(message) > DOORBELL_ONLY_ABOVE:
            message = json.dumps({"seq": event["seq"]})
        await self.channels.wait_published(message, [self.channel(stream)])

    def channel(self, stream: Stream) -> str:
        """The stream's channel, under this deployment's prefix: deployments sharing one Redis
        must not hear each other's sessions."""
        return f"{self.rt.settings.channels_prefix}:{stream.channel}"

    async def serve(self, session_id: int, client: Client, after: int, on_reset: Callable[[], Awaitable[None]]) -> None:
        """Feed one client until its connection ends: catch up from `after`, then stream. Raises
        TooSlow for a client whose socket stopped taking frames (its connection is then closed)."""
        room = self.room(session_id)
        room.clients.add(client)  # before ready: the room is never torn down under a joining client
        await room.ready.wait()
        try:
            client.sent_seq = after
            await self.catch_up(session_id, client, on_reset)
            while True:
                client.idle = client.queue.empty() and not client.removed
                item = await client.queue.get()
                client.idle = False
                if client.removed:
                    raise Removed(f"participant {client.participant_id} was removed")
                if item is not None:
                    client.take(item)
                    if item.last <= client.sent_seq:
                        continue
                if item is None or item.first != client.sent_seq + 1:
                    # Overflowed, too slow, asked to resync, or a stretch that does not follow on
                    # what it has: start again from the database.
                    client.overflowed = False
                    await self.catch_up(session_id, client, on_reset)
                    continue
                await self._write(client, item)
        finally:
            room.clients.discard(client)
            if not room.clients and room.task:
                room.task.cancel()
                self.rooms.pop(session_id, None)

    async def _write(self, client: Client, frames: Frames) -> None:
        try:
            await asyncio.wait_for(client.write(frames), SLOW_WRITE_S)
        except TimeoutError:
            raise TooSlow(f"no frame taken in {SLOW_WRITE_S:g} s") from None

    def room(self, session_id: int) -> Room:
        room = self.rooms.get(session_id)
        if room is None or room.task is None or room.task.done():
            room = self.rooms[session_id] = Room(self, session_id)
            room.task = asyncio.create_task(room.run(), name=f"room-{session_id}")
        if self._watching is None or self._watching.done():
            self._watching = asyncio.create_task(self.watch(), name="rooms-watch")
        return room

    async def catch_up(self, session_id: int, client: Client, on_reset: Callable[[], Awaitable[None]]) -> None:
        html = client.audience not in JSON_AUDIENCES
        limit = HTML_REPLAY_LIMIT + 1 if html else CATCH_UP_PAGE
        while True:
            wires = await self._backlog(session_id, client.sent_seq, limit)
            if html and len(wires) > HTML_REPLAY_LIMIT:
                async with self.rt.db.read() as db:
                    client.sent_seq = await events.last_seq(db, Stream.session(session_id)) or client.sent_seq
                await on_reset()
                return
            for start in range(0, len(wires), FRAME_EVENTS):
                part = wires[start : start + FRAME_EVENTS]
                key = client.key_in(catalogue.personal_ids(part))
                await self._write(client, (await self.frames(session_id, part, {key}))[key])
            if html or len(wires) < CATCH_UP_PAGE:
                return

    async def _backlog(self, session_id: int, after: int, limit: int) -> list[dict[str, Any]]:
        """Events after `after`: from the room's memory when it reaches back that far, else from
        the database, one reader at a time per room, so that clients reconnecting together read
        the stretch once and the rest find it in memory."""
        room = self.rooms.get(session_id)
        if room is not None and (found := room.since(after, limit)) is not None:
            return found
        lock = room.filling if room is not None else contextlib.nullcontext()
        async with lock:
            if room is not None and (found := room.since(after, limit)) is not None:
                return found
            async with self.rt.db.read() as db:
                wires = [events.wire(e) for e in await events.since(db, Stream.session(session_id), after, limit=limit)]
            if room is not None:
                room.keep(wires)
            return wires

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            if room.task:
                room.task.cancel()
        self.rooms.clear()
        if self._watching:
            self._watching.cancel()
