"""The export page and its downloads: a zip of CSV files, one JSON document or a REFI-QDA project
of one session, one community or everything the researcher may see. The file is written to a
temporary file in batches and streamed from there, so a large export needs little memory."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Stream

from labs.errors import LabsError
from labs.runtime import Runtime
from labs.services import exports
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.render import failed, page

Req = Request[Any, Any, State]
CHUNK = 64 * 1024


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        fh.seek(0)
        while chunk := fh.read(CHUNK):
            yield chunk
    finally:
        fh.close()


async def download(rt: Runtime, account: Any, scope: Any, format_: Any, via: str) -> Stream:
    """Write the export to a temporary file, log it, and stream it; a bad scope or format raises
    before anything is written or logged."""
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _chunks once streamed
    try:
        await exports.export(rt, account, scope, format_, fh, via=via)
    except BaseException:
        fh.close()
        raise
    name = f"labs-{str(scope).replace(':', '-')}.{exports.FORMATS[str(format_)]}"
    return Stream(
        _chunks(fh),
        media_type=exports.MEDIA_TYPES[str(format_)],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _export_page(request: Req, rt: Runtime, identity: Identity, **extra: Any) -> Response[Any]:
    assert identity.account is not None
    sessions, communities = await exports.choices(rt, identity.account)
    return page(
        request,
        "research/export.html",
        sessions=sessions,
        communities=communities,
        log=await exports.recent(rt, request.query_params.get("page")),
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/export", guards=[auth.researcher])
async def export_page(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    return await _export_page(request, rt, identity)


@post("/research/export", guards=[auth.researcher], status_code=200)
async def export_download(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    data = await form_data(request)
    try:
        return await download(rt, identity.account, data.get("scope"), data.get("format"), "web")
    except LabsError as e:
        return await _export_page(request, rt, identity, **failed(e, data))


routes = [export_page, export_download]
