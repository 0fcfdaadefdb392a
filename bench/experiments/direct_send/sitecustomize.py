"""Experiment, not a fix: Room.deliver writes each frame straight to every caught-up client
instead of queueing it for that client's pump task. It has no protection against a slow socket
(a real change needs one). Use: PYTHONPATH=bench/experiments/direct_send before the benchmark
command; the server it starts inherits it. See docs/performance.md."""

import contextlib

import labs.live as live


async def deliver(self, event):
    frames: dict[str, str] = {}
    for client in list(self.clients):
        if client.audience not in frames:
            frames[client.audience] = await self.hub.frame(self.session_id, event, client.audience)
        if client.sent_seq == event["seq"] - 1:
            with contextlib.suppress(Exception):
                await client.send(frames[client.audience])
                client.sent_seq = event["seq"]
        else:
            client.offer(event["seq"], frames[client.audience])


live.Room.deliver = deliver
