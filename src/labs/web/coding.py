"""Research pages for qualitative coding: the codebook (codes, .qdc out and in), coding a
session's notes (a whole note or a span selected in the browser), and one's own memos on notes,
codes and sessions. Handlers parse, call one service function and render; the service decides."""

from __future__ import annotations

import io
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.response import Redirect

from labs.errors import Invalid, LabsError
from labs.models import Account
from labs.runtime import Runtime
from labs.services import codebook, coding, exports, memos
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data, safe_next
from labs.web.render import failed, page

Req = Request[Any, Any, State]
QDC_TYPE = "application/xml"


def _account(identity: Identity) -> Account:
    assert identity.account is not None
    return identity.account


def _page(request: Req) -> Any:
    return request.query_params.get("page")


def _htmx(request: Req) -> bool:
    return request.headers.get("hx-request") == "true"


# --- the codebook --------------------------------------------------------------------------


async def _codebook_page(request: Req, rt: Runtime, **extra: Any) -> Response[Any]:
    codes = await codebook.outline(rt)
    return page(
        request,
        "research/codebook.html",
        codes=codebook.page_of(codes, _page(request)),
        parents=codes,
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/codes", guards=[auth.researcher])
async def codebook_view(request: Req, rt: Runtime) -> Response[Any]:
    return await _codebook_page(request, rt)


@post("/research/codes", guards=[auth.researcher])
async def code_create(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    data = await form_data(request)
    try:
        code = await codebook.create(rt, _account(identity), data)
    except LabsError as e:
        return await _codebook_page(request, rt, **failed(e, data))
    return Redirect(f"/research/codes#code-{code.id}")


@post("/research/codes/import", guards=[auth.researcher])
async def code_import(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a .qdc file to import.", {"file": "Choose a .qdc file."})
        content = await upload.read(codebook.refi.MAX_CODEBOOK_BYTES + 1)
        added, kept = await codebook.import_codebook(rt, _account(identity), content)
    except LabsError as e:
        return await _codebook_page(request, rt, **failed(e), import_error=True)
    return await _codebook_page(request, rt, imported={"added": added, "kept": kept})


@get("/research/codes.qdc", guards=[auth.researcher])
async def codebook_download(rt: Runtime, identity: Identity) -> Response[bytes]:
    out = io.BytesIO()
    await exports.codebook_file(rt, _account(identity), out)
    return Response(
        out.getvalue(),
        media_type=QDC_TYPE,
        headers={"Content-Disposition": 'attachment; filename="labs-codebook.qdc"'},
    )


async def _code_page(request: Req, rt: Runtime, identity: Identity, code_id: int, **extra: Any) -> Response[Any]:
    account = _account(identity)
    code, applied = await coding.code_codings(rt, account, code_id, _page(request))
    return page(
        request,
        "research/code.html",
        code=code,
        applied=applied,
        parents=[(c, d) for c, d in await codebook.outline(rt) if c.id != code.id],
        memos=await memos.mine(rt, account, 1, code_id=code.id),
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/codes/{code_id:int}", guards=[auth.researcher])
async def code_view(request: Req, rt: Runtime, identity: Identity, code_id: int) -> Response[Any]:
    return await _code_page(request, rt, identity, code_id)


@post("/research/codes/{code_id:int}", guards=[auth.researcher])
async def code_update(request: Req, rt: Runtime, identity: Identity, code_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        await codebook.update_code(rt, _account(identity), code_id, data)
    except LabsError as e:
        return await _code_page(request, rt, identity, code_id, **failed(e, data))
    return Redirect(f"/research/codes/{code_id}")


@post("/research/codes/{code_id:int}/delete", guards=[auth.researcher])
async def code_delete(request: Req, rt: Runtime, identity: Identity, code_id: int) -> Response[Any]:
    try:
        await codebook.delete(rt, _account(identity), code_id)
    except LabsError as e:
        return await _code_page(request, rt, identity, code_id, **failed(e))
    return Redirect("/research/codes")


# --- coding notes --------------------------------------------------------------------------


@get("/research/sessions/{session_id:int}/coding", guards=[auth.researcher])
async def session_coding(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    account = _account(identity)
    session, notes = await coding.session_notes(rt, account, session_id, _page(request))
    return page(
        request,
        "research/session_coding.html",
        session=session,
        notes=notes,
        memos=await memos.mine(rt, account, 1, session_id=session_id),
        form={},
        errors={},
    )


async def _note_page(request: Req, rt: Runtime, identity: Identity, note_id: int, **extra: Any) -> Response[Any]:
    account = _account(identity)
    view, session = await coding.note_view(rt, account, note_id)
    return page(
        request,
        "research/note.html",
        block=extra.pop("block", None),
        view=view,
        session=session,
        codes=await codebook.outline(rt),
        memos=await memos.mine(rt, account, 1, note_id=view.note.id),
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/notes/{note_id:int}", guards=[auth.researcher])
async def note_view(request: Req, rt: Runtime, identity: Identity, note_id: int) -> Response[Any]:
    return await _note_page(request, rt, identity, note_id)


@post("/research/notes/{note_id:int}/codings", guards=[auth.researcher])
async def coding_add(request: Req, rt: Runtime, identity: Identity, note_id: int) -> Response[Any]:
    """Apply a code to the selected span (or the whole note); htmx gets the codings block."""
    data = await form_data(request)
    if data.get("whole"):
        data.pop("start", None)
        data.pop("end", None)
    try:
        await coding.apply(rt, _account(identity), note_id, data)
    except LabsError as e:
        return await _note_page(request, rt, identity, note_id, block="codings", **failed(e, data))
    if _htmx(request):
        return await _note_page(request, rt, identity, note_id, block="codings")
    return Redirect(f"/research/notes/{note_id}#codings")


@post("/research/codings/{coding_id:int}/delete", guards=[auth.researcher])
async def coding_remove(request: Req, rt: Runtime, identity: Identity, coding_id: int) -> Response[Any]:
    removed = await coding.remove(rt, _account(identity), coding_id)
    if _htmx(request):
        return await _note_page(request, rt, identity, removed.note_id, block="codings")
    return Redirect(f"/research/notes/{removed.note_id}#codings")


# --- memos ---------------------------------------------------------------------------------


def _back(data: dict[str, Any], memo: Any = None) -> str:
    if target := safe_next(data.get("next"), ""):
        return target
    return f"/research/memos/{memo.id}" if memo is not None else "/research/memos"


async def _memos_page(request: Req, rt: Runtime, identity: Identity, **extra: Any) -> Response[Any]:
    return page(
        request,
        "research/memos.html",
        memos=await memos.mine(rt, _account(identity), _page(request)),
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/memos", guards=[auth.researcher])
async def memo_list(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    return await _memos_page(request, rt, identity)


@post("/research/memos", guards=[auth.researcher])
async def memo_write(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    data = await form_data(request)
    try:
        memo = await memos.write(rt, _account(identity), data)
    except LabsError as e:
        return await _memos_page(request, rt, identity, **failed(e, data))
    return Redirect(_back(data, memo))


async def _memo_page(request: Req, rt: Runtime, identity: Identity, memo_id: int, **extra: Any) -> Response[Any]:
    return page(
        request,
        "research/memo.html",
        memo=await memos.get(rt, _account(identity), memo_id),
        **{"form": {}, "errors": {}, **extra},
    )


@get("/research/memos/{memo_id:int}", guards=[auth.researcher])
async def memo_view(request: Req, rt: Runtime, identity: Identity, memo_id: int) -> Response[Any]:
    return await _memo_page(request, rt, identity, memo_id)


@post("/research/memos/{memo_id:int}", guards=[auth.researcher])
async def memo_edit(request: Req, rt: Runtime, identity: Identity, memo_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        await memos.edit(rt, _account(identity), memo_id, data)
    except LabsError as e:
        return await _memo_page(request, rt, identity, memo_id, **failed(e, data))
    return Redirect(f"/research/memos/{memo_id}")


@post("/research/memos/{memo_id:int}/delete", guards=[auth.researcher])
async def memo_delete(rt: Runtime, identity: Identity, memo_id: int) -> Response[Any]:
    await memos.delete(rt, _account(identity), memo_id)
    return Redirect("/research/memos")


routes = [
    codebook_view,
    code_create,
    code_import,
    codebook_download,
    code_view,
    code_update,
    code_delete,
    session_coding,
    note_view,
    coding_add,
    coding_remove,
    memo_list,
    memo_write,
    memo_view,
    memo_edit,
    memo_delete,
]
