"""Checks every request passes before its handler runs: numbers in the path and the query that
no table can hold, and (under /api/) bodies that are not JSON. Each gets a clear 4xx."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from labs.errors import Invalid, NotFound, UnsupportedMediaType
from labs.validate import LARGEST


async def check_request(request: Request[Any, Any, State]) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, int) and not 0 <= value <= LARGEST:
            raise NotFound("Nothing has that %(name)s.", name=name)
        if "\x00" in str(value):  # no file or name holds a NUL byte (the file system refuses it)
            raise NotFound("Nothing has that %(name)s.", name=name)
    for name, value in request.query_params.items():
        number = value.strip().lstrip("+-")
        if number.isdigit() and len(number) > 9 and abs(int(value)) > LARGEST:
            raise Invalid(
                "%(name)s is out of range (at most %(largest)s).",
                {name: "Out of range."},
                name=name,
                largest=LARGEST,
            )
    if request.url.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS"):
        _json_only(request)


def _json_only(request: Request[Any, Any, State]) -> None:
    """A form or text/plain body is what a page on another site can make a browser send without
    asking first (no CORS preflight): the API takes JSON only."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if (media_type or has_body) and media_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
