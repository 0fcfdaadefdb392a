"""The codebook researchers share: codes with a description, a colour and an optional parent;
add, change (no cycles, no two codes of one name under one parent), remove, and the REFI-QDA
codebook (.qdc) out and in. Every change is an event on the research stream of the codebook."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, consent, events, paging, refi, validate
from labs.errors import Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import Account, Code
from labs.runtime import Runtime

MAX_NAME = 120
MAX_DESCRIPTION = 4000
# Tableau 10: distinguishable colours for codes made without one.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_COLOR = re.compile(r"#[0-9a-f]{6}")


def code_payload(code: Code) -> catalogue.CodeState:
    return catalogue.CodeState(
        id=code.id, name=code.name, description=code.description, color=code.color, parent_id=code.parent_id
    )


def code_data(code: Code) -> dict[str, Any]:
    return catalogue.encode(code_payload(code))


# --- reading -------------------------------------------------------------------------------


async def all_codes(db: AsyncSession) -> list[Code]:
    return list((await db.scalars(select(Code).order_by(Code.name, Code.id))).all())


def tree(codes: Iterable[Code]) -> list[tuple[Code, int]]:
    """Codes in outline order (each parent before its children, siblings by name) with depth."""
    children: dict[int | None, list[Code]] = {}
    for code in codes:
        children.setdefault(code.parent_id, []).append(code)
    out: list[tuple[Code, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for code in children.get(parent, []):
            out.append((code, depth))
            walk(code.id, depth + 1)

    walk(None, 0)
    return out


async def outline(rt: Runtime) -> list[tuple[Code, int]]:
    async with rt.db.read() as db:
        return tree(await all_codes(db))


def page_of(outlined: list[tuple[Code, int]], page: Any) -> paging.Page[tuple[Code, int]]:
    """One page of the outline (read whole: a codebook has hundreds of codes, not millions)."""
    number, size = paging.numbers(page)
    return paging.Page(outlined[(number - 1) * size : number * size], number, size, len(outlined))


async def get(rt: Runtime, code_id: int) -> Code:
    async with rt.db.read() as db:
        return await _code(db, code_id)


async def _code(db: AsyncSession, code_id: Any) -> Code:
    code = await db.get(Code, validate.integer(code_id, "code_id"))
    if code is None:
        raise NotFound("No such code.")
    return code


# --- checks --------------------------------------------------------------------------------


def _color(value: Any, fallback: str) -> str:
    color = str(value or "").strip().lower() or fallback
    if not _COLOR.fullmatch(color):
        raise Invalid("A colour is written #rrggbb, for example #4e79a7.", {"color": "Use the form #rrggbb."})
    return color


async def _parent(db: AsyncSession, value: Any, code_id: int | None) -> int | None:
    """The parent for a code, refused when it would make the code its own ancestor."""
    if value in (None, ""):
        return None
    parent = await db.get(Code, validate.integer(value, "parent_id"))
    if parent is None:
        raise Invalid("There is no such parent code.", {"parent_id": "Unknown code."})
    seen: set[int] = set()
    cursor: Code | None = parent
    while cursor is not None and cursor.id not in seen:
        if cursor.id == code_id:
            raise Invalid(
                "A code cannot be placed under itself or under one of its own subcodes.",
                {"parent_id": "This would make a cycle."},
            )
        seen.add(cursor.id)
        cursor = await db.get(Code, cursor.parent_id) if cursor.parent_id is not None else None
    return parent.id


async def _unique(db: AsyncSession, name: str, parent_id: int | None, code_id: int | None) -> None:
    siblings = await db.scalars(
        select(Code.name).where(
            Code.parent_id.is_(None) if parent_id is None else Code.parent_id == parent_id,
            Code.id != (code_id or 0),
        )
    )
    if name.casefold() in {s.casefold() for s in siblings.all()}:
        raise Invalid(
            "There is already a code called %(name)s here; codes under one parent need different names.",
            {"name": "Already used under this parent."},
            name=name,
        )


async def _fields(db: AsyncSession, data: dict[str, Any], code: Code | None) -> dict[str, Any]:
    name = validate.text(data.get("name"), "name", N_("The name"), MAX_NAME, required=True)
    description = validate.text(data.get("description"), "description", N_("The description"), MAX_DESCRIPTION)
    code_id = code.id if code else None
    parent_id = await _parent(db, data.get("parent_id"), code_id)
    await _unique(db, name, parent_id, code_id)
    count = int(await db.scalar(select(func.count(Code.id))) or 0) if code is None else 0
    fallback = code.color if code else PALETTE[count % len(PALETTE)]
    return {
        "name": name,
        "description": description,
        "parent_id": parent_id,
        "color": _color(data.get("color"), fallback),
    }


# --- changes -------------------------------------------------------------------------------


async def create(rt: Runtime, account: Account, data: dict[str, Any]) -> Code:
    async with events.change(rt) as tx:
        code = Code(created_by_id=account.id, **await _fields(tx.db, data, None))
        tx.db.add(code)
        await tx.db.flush()
        await tx.emit(Stream.research(), catalogue.CodeCreated(**code_data(code)), Actor.account(account.id))
    return code


async def update_code(rt: Runtime, account: Account, code_id: Any, data: dict[str, Any]) -> Code:
    async with events.change(rt) as tx:
        code = await _code(tx.db, code_id)
        for key, value in (await _fields(tx.db, data, code)).items():
            setattr(code, key, value)
        await tx.emit(Stream.research(), catalogue.CodeUpdated(**code_data(code)), Actor.account(account.id))
    return code


async def delete(rt: Runtime, account: Account, code_id: Any) -> None:
    """Remove a code and its codings; its subcodes move up to its parent."""
    async with events.change(rt) as tx:
        code = await _code(tx.db, code_id)
        names = await tx.db.scalars(select(Code.name).where(Code.parent_id == code.id))
        for name in names.all():
            await _unique(tx.db, name, code.parent_id, code.id)
        await tx.db.execute(update(Code).where(Code.parent_id == code.id).values(parent_id=code.parent_id))
        await tx.db.delete(code)
        await tx.emit(
            Stream.research(),
            catalogue.CodeDeleted(id=code.id, parent_id=code.parent_id),
            Actor.account(account.id),
        )


async def import_codebook(rt: Runtime, account: Account, data: bytes) -> tuple[int, int]:
    """Add the codes of a REFI-QDA .qdc file (nested as in the file). A code whose name is already
    used under the same parent is kept as it is, its subcodes merged. Returns (added, kept); a bad
    file writes nothing."""
    nodes = refi.read_codebook(data)
    added = kept = 0
    async with events.change(rt) as tx:
        existing = await all_codes(tx.db)
        by_place = {(c.parent_id, c.name.casefold()): c for c in existing}
        count = len(existing)

        async def place(node: refi.CodeNode, parent_id: int | None) -> None:
            nonlocal added, kept, count
            name = validate.text(node.name, "file", N_("A code's name"), MAX_NAME, required=True)
            code = by_place.get((parent_id, name.casefold()))
            if code is None:
                code = Code(
                    name=name,
                    description=node.description[:MAX_DESCRIPTION],
                    color=node.color or PALETTE[count % len(PALETTE)],
                    parent_id=parent_id,
                    created_by_id=account.id,
                )
                tx.db.add(code)
                await tx.db.flush()
                by_place[(parent_id, name.casefold())] = code
                count += 1
                added += 1
                await tx.emit(Stream.research(), catalogue.CodeCreated(**code_data(code)), Actor.account(account.id))
            else:
                kept += 1
            for child in node.children:
                await place(child, code.id)

        for node in nodes:
            await place(node, None)
    return added, kept


def nodes(codes: Iterable[Code], guid: Any, memo_refs: dict[int, list[str]] | None = None) -> list[refi.CodeNode]:
    """The codebook as REFI-QDA code nodes (GUIDs from `guid(code)`), with memo references."""
    made: dict[int, refi.CodeNode] = {}
    roots: list[refi.CodeNode] = []
    ordered = tree(codes)
    for code, _depth in ordered:
        made[code.id] = refi.CodeNode(
            name=code.name,
            description=code.description,
            color=code.color,
            guid=guid(code.id),
            note_refs=(memo_refs or {}).get(code.id, []),
        )
    for code, _depth in ordered:
        (made[code.parent_id].children if code.parent_id in made else roots).append(made[code.id])
    return roots


async def write_qdc(rt: Runtime, out: IO[bytes]) -> int:
    """The codebook as a .qdc file onto `out`; returns the number of codes."""
    shown = consent.for_research(rt.settings)
    async with rt.db.read() as db:
        codes = await all_codes(db)
    refi.write_codebook(out, nodes(codes, lambda cid: shown.guid("code", cid)), origin="labs")
    return len(codes)
