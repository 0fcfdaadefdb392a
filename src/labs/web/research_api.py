"""The research part of the JSON API (/api/v1/research): the codebook (and .qdc out and in),
codings, one's own memos, and exports. Bearer tokens of researcher (or admin) accounts only."""

from __future__ import annotations

import io
from typing import Any

import msgspec
from litestar import Response, Router, get, post, put
from litestar.response import Stream

from labs import paging
from labs.models import Account
from labs.runtime import Runtime
from labs.services import codebook, coding, exports, memos
from labs.web import auth
from labs.web.auth import Identity
from labs.web.exports import download


class CodeIn(msgspec.Struct):
    name: str
    description: str = ""
    color: str | None = None
    parent_id: int | None = None


class CodingIn(msgspec.Struct):
    code_id: int
    start: int | None = None
    end: int | None = None


class MemoIn(msgspec.Struct):
    title: str
    body: str = ""
    note_id: int | None = None
    code_id: int | None = None
    session_id: int | None = None


class MemoEdit(msgspec.Struct):
    title: str
    body: str = ""


class CodebookIn(msgspec.Struct):
    qdc: str  # the file's text (the API takes JSON only)


class ExportIn(msgspec.Struct):
    scope: str
    format: str = "json"


def _account(identity: Identity) -> Account:
    assert identity.account is not None
    return identity.account


def _paged(found: paging.Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, **found.meta()}


def _applied(a: coding.Applied, body: str) -> dict[str, Any]:
    return {
        **coding.coding_data(a.coding),
        "code": a.code.name,
        "coder": a.coder,
        "text": a.text(body),
        "created_at": a.coding.created_at.isoformat(),
    }


@get("/codes", summary="The codebook, in outline order (depth: 0 for top-level codes)")
async def list_codes(rt: Runtime) -> list[dict[str, Any]]:
    return [{**codebook.code_data(code), "depth": depth} for code, depth in await codebook.outline(rt)]


@post("/codes", status_code=201, summary="Add a code")
async def create_code(rt: Runtime, identity: Identity, data: CodeIn) -> dict[str, Any]:
    return codebook.code_data(await codebook.create(rt, _account(identity), msgspec.to_builtins(data)))


@put("/codes/{code_id:int}", summary="Change a code (name, description, colour, parent)")
async def update_code(rt: Runtime, identity: Identity, code_id: int, data: CodeIn) -> dict[str, Any]:
    changed = await codebook.update_code(rt, _account(identity), code_id, msgspec.to_builtins(data))
    return codebook.code_data(changed)


@post("/codes/{code_id:int}/delete", status_code=204, summary="Remove a code; its subcodes move up")
async def delete_code(rt: Runtime, identity: Identity, code_id: int) -> None:
    await codebook.delete(rt, _account(identity), code_id)


@post("/codes/import", status_code=200, summary="Import a REFI-QDA codebook: {\"qdc\": the .qdc file's text}")
async def import_codes(rt: Runtime, identity: Identity, data: CodebookIn) -> dict[str, int]:
    added, kept = await codebook.import_codebook(rt, _account(identity), data.qdc.encode())
    return {"added": added, "kept": kept}


@get("/codes.qdc", summary="The codebook as a REFI-QDA codebook (.qdc)")
async def export_codes(rt: Runtime, identity: Identity) -> Response[bytes]:
    out = io.BytesIO()
    await exports.codebook_file(rt, _account(identity), out, via="api")
    return Response(out.getvalue(), media_type="application/xml")


@get("/notes/{note_id:int}/codings", summary="A note with every researcher's codings of it")
async def note_codings(rt: Runtime, identity: Identity, note_id: int) -> dict[str, Any]:
    view, _session = await coding.note_view(rt, _account(identity), note_id)
    note = view.note
    return {
        "note": {"id": note.id, "session_id": note.session_id, "body": note.body, "kind": note.kind.value},
        "participant": view.person.key,
        "codings": [_applied(a, note.body) for a in view.codings],
    }


@post("/notes/{note_id:int}/codings", status_code=201, summary="Code a whole note, or the span [start, end)")
async def add_coding(rt: Runtime, identity: Identity, note_id: int, data: CodingIn) -> dict[str, Any]:
    made = await coding.apply(rt, _account(identity), note_id, msgspec.to_builtins(data))
    return {**coding.coding_data(made), "created_at": made.created_at.isoformat()}


@post("/codings/{coding_id:int}/delete", status_code=204, summary="Take back one of your codings")
async def remove_coding(rt: Runtime, identity: Identity, coding_id: int) -> None:
    await coding.remove(rt, _account(identity), coding_id)


@get("/memos", summary="Your memos, newest first (filters: note_id, code_id, session_id)")
async def list_memos(
    rt: Runtime,
    identity: Identity,
    page: int = 1,
    note_id: int | None = None,
    code_id: int | None = None,
    session_id: int | None = None,
) -> dict[str, Any]:
    found = await memos.mine(
        rt, _account(identity), page, note_id=note_id, code_id=code_id, session_id=session_id
    )
    return _paged(found, [memos.memo_data(m) for m in found.items])


@post("/memos", status_code=201, summary="Write a memo on one note, code or session")
async def write_memo(rt: Runtime, identity: Identity, data: MemoIn) -> dict[str, Any]:
    return memos.memo_data(await memos.write(rt, _account(identity), msgspec.to_builtins(data)))


@get("/memos/{memo_id:int}", summary="One of your memos (anyone else's: 404)")
async def get_memo(rt: Runtime, identity: Identity, memo_id: int) -> dict[str, Any]:
    return memos.memo_data(await memos.get(rt, _account(identity), memo_id))


@put("/memos/{memo_id:int}", summary="Change one of your memos")
async def edit_memo(rt: Runtime, identity: Identity, memo_id: int, data: MemoEdit) -> dict[str, Any]:
    return memos.memo_data(await memos.edit(rt, _account(identity), memo_id, msgspec.to_builtins(data)))


@post("/memos/{memo_id:int}/delete", status_code=204, summary="Delete one of your memos")
async def delete_memo(rt: Runtime, identity: Identity, memo_id: int) -> None:
    await memos.delete(rt, _account(identity), memo_id)


@post("/exports", status_code=200, summary="Download an export: scope session:<id>, community:<id> or all")
async def make_export(rt: Runtime, identity: Identity, data: ExportIn) -> Stream:
    return await download(rt, _account(identity), data.scope, data.format, "api")


@get("/exports", summary="The export log: who exported what, when")
async def export_log(rt: Runtime, page: int = 1) -> dict[str, Any]:
    found = await exports.recent(rt, page)
    items = [
        {"at": event.at.isoformat(), "by": name, **{k: event.data.get(k) for k in ("format", "scope", "via", "counts")}}
        for event, name in found.items
    ]
    return _paged(found, items)


routes = [
    Router(
        path="/api/v1/research",
        guards=[auth.researcher],
        route_handlers=[
            list_codes,
            create_code,
            update_code,
            delete_code,
            import_codes,
            export_codes,
            note_codings,
            add_coding,
            remove_coding,
            list_memos,
            write_memo,
            get_memo,
            edit_memo,
            delete_memo,
            make_export,
            export_log,
        ],
    )
]
