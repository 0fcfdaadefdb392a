"""The bare baseline: a plain `websockets` server (uvloop, no framework, no database, no
rendering) that sends every message it is given to every subscriber, one frame per message.

Subscribers connect to `/sub`; a publisher connects to `/pub` and each text message it sends is
broadcast at once with `websockets.broadcast` (the library's own fan-out, which skips a socket
whose buffer is full instead of waiting for it). The benchmarks run it in its own process beside
`labs serve`, with the same clients, the same messages and the same CPU accounting, so each labs
figure has a ratio against what the bare transport does on this machine in the same run.

    .venv/bin/python bench/bare_server.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import ServerConnection, broadcast, serve

subscribers: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request else ""
    if path.startswith("/pub"):
        async for message in ws:
            broadcast(subscribers, message)
        return
    subscribers.add(ws)
    try:
        await ws.wait_closed()
    finally:
        subscribers.discard(ws)


async def main(host: str, port: int) -> None:
    # No permessage-deflate: labs declines it too, so both send the same bytes.
    async with serve(handler, host, port, compression=None, max_size=2**20, ping_interval=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.host, args.port))
    else:
        uvloop.run(main(args.host, args.port))
