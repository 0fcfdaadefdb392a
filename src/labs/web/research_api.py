"""The research part of the JSON API (/api/v1/research): the codebook (and .qdc out and in),
codings, one's own memos, and exports (bearer tokens of researcher or admin accounts); research
grants, replay and charts (the same scope and 404s as the research pages, so also the
facilitators of a session)."""

from __future__ import annotations

import io
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.response import Stream

from labs import paging
from labs.models import Account
from labs.runtime import Runtime
from labs.services import analysis, codebook, coding, exports, grants, memos, moderation_log, replay
from labs.web import auth
from labs.web.auth import Identity
from labs.web.exports import download
from labs.web.research import staff


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


@post("/codes/import", status_code=200, summary='Import a REFI-QDA codebook: {"qdc": the .qdc file\'s text}')
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
    found = await memos.mine(rt, _account(identity), page, note_id=note_id, code_id=code_id, session_id=session_id)
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


# --- access, replay, charts ---------------------------------------------------------------


class GrantIn(msgspec.Struct):
    email: str
    session_id: int | None = None
    community_id: int | None = None


def grant_data(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "session_id": row.session_id,
        "community_id": row.community_id,
        "granted_by_id": row.granted_by_id,
        "granted_at": row.granted_at.isoformat() if row.granted_at else None,
    }


def grant_row(row: grants.GrantRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "researcher": row.researcher,
        "email": row.email,
        "session_id": row.session_id,
        "community_id": row.community_id,
        "granted_by": row.granted_by,
        "granted_at": row.granted_at.isoformat(),
    }


@get("/grants", guards=[auth.facilitator], summary="Research grants you may revoke, newest first (paged)")
async def list_grants(
    rt: Runtime, identity: Identity, session_id: int | None = None, page: str | None = None
) -> dict[str, Any]:
    found = await grants.list_grants(rt, _account(identity), session_id=session_id, page=page)
    return {
        "grants": [grant_row(g) for g in found.items],
        "page": found.number,
        "pages": found.pages,
        "total": found.total,
    }


@post(
    "/grants", guards=[auth.facilitator], status_code=201, summary="Grant a researcher access to a session or community"
)
async def create_grant(rt: Runtime, identity: Identity, data: GrantIn) -> dict[str, Any]:
    row = await grants.grant(
        rt, _account(identity), data.email, session_id=data.session_id, community_id=data.community_id
    )
    return grant_data(row)


@delete("/grants/{grant_id:int}", guards=[auth.facilitator], status_code=204, summary="Revoke a research grant")
async def revoke_grant(rt: Runtime, identity: Identity, grant_id: int) -> None:
    await grants.revoke(rt, _account(identity), grant_id)


# --- replay ---------------------------------------------------------------------------------


@get("/sessions/{session_id:int}/replay", guards=[staff], summary="A session as it stood after event `seq`")
async def session_replay(rt: Runtime, identity: Identity, session_id: int, seq: str | None = None) -> dict[str, Any]:
    moment = await replay.for_research(rt, identity.account, session_id, seq)
    wall = moment.wall
    return {
        "seq": moment.seq,
        "last_seq": moment.last_seq,
        "at": wall.at,
        "status": wall.status,
        "current_activity_id": wall.current_activity_id,
        "activities": wall.agenda,
        "participants": len(wall.participants),
        "notes": [{k: n.get(k) for k in NOTE_KEYS} for n in moment.notes],
        "left_out": moment.left_out,
        "clusters": list(wall.clusters.values()),
        "rounds": [{**r, "tally": wall.tallies.get(r["id"], {})} for r in wall.rounds.values()],
        "cases": wall.cases,
    }


@get("/charts", guards=[staff], summary="Every chart's table for the sessions you may study (filters as the page)")
async def charts(request: Request[Any, Any, State], rt: Runtime, identity: Identity) -> dict[str, Any]:
    assert identity.account is not None
    tables = await analysis.chart_tables(rt, identity.account, analysis.filters(request.query_params))
    return {t.key: {"columns": list(t.columns), "rows": [list(r) for r in t.rows]} for t in tables}


@get(
    "/moderation",
    guards=[staff],
    summary="The moderation log of the sessions you may study, newest first (paged; filter: session_id)",
)
async def moderation(
    rt: Runtime, identity: Identity, session_id: str | None = None, page: str | None = None
) -> dict[str, Any]:
    found = await moderation_log.entries(rt, identity.account, session_id=session_id, page=page)
    return _paged(found, [moderation_log.entry_data(e) for e in found.items])


NOTE_KEYS = ("id", "body", "kind", "activity_id", "case_id", "cluster_id", "pinned", "votes", "created_at")

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
    ),
    Router(
        path="/api/v1/research",
        route_handlers=[list_grants, create_grant, revoke_grant, session_replay, charts, moderation],
    ),
]
