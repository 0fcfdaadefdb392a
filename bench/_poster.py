"""A lean HTTP/1.1 client for the benchmarks' note posts.

The load runs on the same two cores as the server, so what the posters cost is taken from the
server. httpx spends about 1-3 ms of CPU per request here, which capped the throughput benchmark
at the posters' core (about 150 posts/s) rather than the server's; this client writes the request
bytes itself over kept-alive connections and reads the status, headers and Content-Length body
back (uvicorn answers JSON with a length), about 50 µs per post."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class PostError(Exception):
    """The connection broke before an answer came (the caller may resend: posts are idempotent)."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise PostError(str(e)) from e
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Posters:
    """Kept-alive connections to one server, `size` at most; a post takes one and gives it back."""

    def __init__(self, base_url: str, size: int) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.prefix = url.path.rstrip("/")
        self.free: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened, self.size = 0, size

    async def _take(self) -> Connection:
        if self.free.empty() and self.opened < self.size:
            self.opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return Connection(reader, writer, f"{self.host}:{self.port}")
        return await self.free.get()

    async def post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        connection = await self._take()
        try:
            answer = await connection.post(self.prefix + path, payload, headers)
        except BaseException:
            connection.close()
            self.opened -= 1
            raise
        self.free.put_nowait(connection)
        return answer

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()
