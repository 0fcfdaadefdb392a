"""Memos: a researcher's own analytic writing on a note, a code or a session. A memo is its
author's alone: anyone else asking for it gets 404. Memo events carry ids, never the text (the
research stream is read by every researcher)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, consent, events, paging, validate
from labs.errors import Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import Account, Memo, utcnow
from labs.runtime import Runtime
from labs.services import grants
from labs.services.codebook import _code
from labs.services.coding import research_note

MAX_TITLE = 200
MAX_BODY = 20000
TARGETS = ("note_id", "code_id", "session_id")


async def _target(db: AsyncSession, rt: Runtime, account: Account, data: dict[str, Any]) -> tuple[str, int, Stream]:
    """Which one thing the memo is about, checked: (field, id, the stream its events go on)."""
    given = [(key, data[key]) for key in TARGETS if data.get(key) not in (None, "")]
    if len(given) != 1:
        raise Invalid(
            "A memo is about one note, one code or one session.", {"target": "Choose one note, code or session."}
        )
    key, value = given[0]
    if key == "note_id":
        note, _person = await research_note(db, account, value, consent.for_research(rt.settings))
        return key, note.id, Stream.research(note.session_id)
    if key == "code_id":
        return key, (await _code(db, value)).id, Stream.research()
    session_id = validate.integer(value, "session_id")
    await grants.check(db, account, session_id=session_id)
    return key, session_id, Stream.research(session_id)


def _fields(data: dict[str, Any]) -> dict[str, str]:
    return {
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "body": validate.text(data.get("body"), "body", N_("The memo"), MAX_BODY),
    }


def memo_payload(memo: Memo) -> dict[str, Any]:
    return {
        "id": memo.id,
        "account_id": memo.account_id,
        "note_id": memo.note_id,
        "code_id": memo.code_id,
        "session_id": memo.session_id,
    }


async def write(rt: Runtime, account: Account, data: dict[str, Any]) -> Memo:
    fields = _fields(data)
    async with events.change(rt) as tx:
        key, target_id, stream = await _target(tx.db, rt, account, data)
        memo = Memo(account_id=account.id, **{key: target_id}, **fields)
        tx.db.add(memo)
        await tx.db.flush()
        await tx.emit(stream, catalogue.MemoWritten(**memo_payload(memo)), Actor.account(account.id))
    return memo


async def _own(db: AsyncSession, rt: Runtime, account: Account, memo_id: Any) -> tuple[Memo, Stream]:
    """The account's own memo (404 for anyone else's), and its stream; access to what it is about
    is checked again (a revoked grant also closes one's memos on that session)."""
    memo = await db.get(Memo, validate.integer(memo_id, "memo_id"))
    if memo is None or memo.account_id != account.id:
        raise NotFound("No such memo.")
    key = next(k for k in TARGETS if getattr(memo, k) is not None)
    _key, _id, stream = await _target(db, rt, account, {key: getattr(memo, key)})
    return memo, stream


async def edit(rt: Runtime, account: Account, memo_id: Any, data: dict[str, Any]) -> Memo:
    fields = _fields(data)
    async with events.change(rt) as tx:
        memo, stream = await _own(tx.db, rt, account, memo_id)
        memo.title, memo.body, memo.updated_at = fields["title"], fields["body"], utcnow()
        await tx.emit(stream, catalogue.MemoEdited(**memo_payload(memo)), Actor.account(account.id))
    return memo


async def delete(rt: Runtime, account: Account, memo_id: Any) -> None:
    async with events.change(rt) as tx:
        memo, stream = await _own(tx.db, rt, account, memo_id)
        await tx.db.delete(memo)
        await tx.emit(stream, catalogue.MemoDeleted(**memo_payload(memo)), Actor.account(account.id))


async def get(rt: Runtime, account: Account, memo_id: Any) -> Memo:
    async with rt.db.read() as db:
        return (await _own(db, rt, account, memo_id))[0]


async def mine(rt: Runtime, account: Account, page: Any, **target: int | None) -> paging.Page[Memo]:
    """One page of the account's memos, newest first; on one note, code or session when given."""
    query = select(Memo).where(Memo.account_id == account.id).order_by(Memo.updated_at.desc(), Memo.id.desc())
    for key, value in target.items():
        if key in TARGETS and value is not None:
            query = query.where(getattr(Memo, key) == value)
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page)


def memo_data(memo: Memo) -> dict[str, Any]:
    return {
        **memo_payload(memo),
        "title": memo.title,
        "body": memo.body,
        "created_at": memo.created_at.isoformat(),
        "updated_at": memo.updated_at.isoformat(),
    }
