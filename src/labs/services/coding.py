"""Qualitative coding: researchers apply codes of the codebook to a whole note or to a span of its
text; several researchers code the same material and each sees who coded what. A researcher codes
only notes of sessions they were granted, and only notes the consent rules let them read.

Codings of a session's notes are events on that session's research stream (not its live stream:
the room never hears of analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, consent, events, paging, validate
from labs.consent import Disclosure, Person
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from labs.events import Actor, Stream
from labs.models import Account, Code, Coding, LabSession, Note, Participant
from labs.runtime import Runtime
from labs.services import grants
from labs.services.codebook import _code


@dataclass(frozen=True)
class Applied:
    """A coding as a page shows it: the code, who coded (account name) and the coded text."""

    coding: Coding
    code: Code
    coder: str | None

    def text(self, body: str) -> str:
        if self.coding.start is None or self.coding.end is None:
            return body
        return body[self.coding.start : self.coding.end]


@dataclass(frozen=True)
class NoteView:
    note: Note
    person: Person
    codings: list[Applied]


async def research_note(db: AsyncSession, account: Account, note_id: Any, shown: Disclosure) -> tuple[Note, Person]:
    """A note the account may read for research; 404 for anything else (other sessions, hidden
    or deleted notes, notes of people who chose `none`)."""
    row = (await db.execute(consent.notes().where(Note.id == validate.integer(note_id, "note_id")))).first()
    if row is None:
        raise NotFound("No such note.")
    note, participant = row
    await grants.check(db, account, session_id=note.session_id)
    person = shown.person(participant)
    assert person is not None  # consent.notes() left out those who chose none
    return note, person


def _span(data: dict[str, Any], body: str) -> tuple[int | None, int | None]:
    start, end = data.get("start"), data.get("end")
    if start in (None, "") and end in (None, ""):
        return None, None
    if start in (None, "") or end in (None, ""):
        raise Invalid("A span needs both its start and its end.", {"start": "Give both start and end."})
    first, last = validate.integer(start, "start"), validate.integer(end, "end")
    if first == last:
        raise Invalid("A coded span must hold at least one character.", {"start": "Select some text first."})
    if not 0 <= first < last <= len(body):
        raise Invalid(
            "The span %(start)s-%(end)s lies outside the note's text, which has %(n)s characters.",
            {"start": "Outside the note's text."},
            start=first,
            end=last,
            n=len(body),
        )
    return first, last


def coding_data(coding: Coding) -> dict[str, Any]:
    return {
        "id": coding.id,
        "code_id": coding.code_id,
        "note_id": coding.note_id,
        "account_id": coding.account_id,
        "start": coding.start,
        "end": coding.end,
    }


async def apply(rt: Runtime, account: Account, note_id: Any, data: dict[str, Any]) -> Coding:
    """Code a whole note (no start/end) or the span [start, end) of its text (in characters)."""
    shown = consent.for_research(rt.settings)
    async with events.change(rt) as tx:
        note, _person = await research_note(tx.db, account, note_id, shown)
        code = await _code(tx.db, data.get("code_id"))
        start, end = _span(data, note.body)
        same = await tx.db.scalar(
            select(Coding.id).where(
                Coding.note_id == note.id,
                Coding.code_id == code.id,
                Coding.account_id == account.id,
                Coding.start.is_(None) if start is None else Coding.start == start,
                Coding.end.is_(None) if end is None else Coding.end == end,
            )
        )
        if same is not None:
            raise Conflict("You already coded this with %(code)s.", {"code_id": "Already coded."}, code=code.name)
        coding = Coding(code_id=code.id, note_id=note.id, account_id=account.id, start=start, end=end)
        tx.db.add(coding)
        await tx.db.flush()
        await tx.emit(
            Stream.research(note.session_id),
            catalogue.CodingAdded(session_id=note.session_id, **coding_data(coding)),
            Actor.account(account.id),
        )
    return coding


async def remove(rt: Runtime, account: Account, coding_id: Any) -> Coding:
    """Take back one of your own codings (others' codings stay: each researcher owns theirs)."""
    shown = consent.for_research(rt.settings)
    async with events.change(rt) as tx:
        coding = await tx.db.get(Coding, validate.integer(coding_id, "coding_id"))
        if coding is None:
            raise NotFound("No such coding.")
        note, _person = await research_note(tx.db, account, coding.note_id, shown)
        if coding.account_id != account.id:
            raise Forbidden("You can remove only your own codings.")
        await tx.db.delete(coding)
        await tx.emit(
            Stream.research(note.session_id),
            catalogue.CodingRemoved(session_id=note.session_id, **coding_data(coding)),
            Actor.account(account.id),
        )
    return coding


# --- reading -------------------------------------------------------------------------------


async def _applied(db: AsyncSession, note_ids: list[int]) -> dict[int, list[Applied]]:
    if not note_ids:
        return {}
    rows = await db.execute(
        select(Coding, Code, Account.display_name)
        .join(Code, Code.id == Coding.code_id)
        .outerjoin(Account, Account.id == Coding.account_id)
        .where(Coding.note_id.in_(note_ids))
        .order_by(Coding.note_id, Coding.start.nulls_first(), Coding.id)
    )
    found: dict[int, list[Applied]] = {}
    for coding, code, coder in rows.all():
        found.setdefault(coding.note_id, []).append(Applied(coding, code, coder))
    return found


async def note_view(rt: Runtime, account: Account, note_id: Any) -> tuple[NoteView, LabSession]:
    shown = consent.for_research(rt.settings)
    async with rt.db.read() as db:
        note, person = await research_note(db, account, note_id, shown)
        session = await db.get(LabSession, note.session_id)
        assert session is not None
        return NoteView(note, person, (await _applied(db, [note.id])).get(note.id, [])), session


async def session_notes(
    rt: Runtime, account: Account, session_id: Any, page: Any
) -> tuple[LabSession, paging.Page[NoteView]]:
    """One page of a session's notes a researcher may read, with every researcher's codings."""
    shown = consent.for_research(rt.settings)
    sid = validate.integer(session_id, "session_id")
    async with rt.db.read() as db:
        await grants.check(db, account, session_id=sid)
        session = await db.get(LabSession, sid)
        assert session is not None
        found = await paging.fetch(db, consent.notes().where(Note.session_id == sid).order_by(Note.id), page)
        applied = await _applied(db, [note.id for note, _ in found.items])
    views = [NoteView(note, _shown(shown, p), applied.get(note.id, [])) for note, p in found.items]
    return session, paging.Page(views, found.number, found.size, found.total)


def _shown(shown: Disclosure, participant: Participant | None) -> Person:
    person = shown.person(participant)
    assert person is not None
    return person


async def code_codings(rt: Runtime, account: Account, code_id: Any, page: int) -> tuple[Code, paging.Page[Any]]:
    """One page of the codings of a code on notes the account may read: (Applied, Note)."""
    async with rt.db.read() as db:
        code = await _code(db, code_id)
        scope = await grants.scope_of(db, account)
        query = (
            select(Coding, Note, Account.display_name)
            .join(Note, Note.id == Coding.note_id)
            .outerjoin(Participant, Participant.id == Note.participant_id)
            .outerjoin(Account, Account.id == Coding.account_id)
            .where(Coding.code_id == code.id, consent.readable(), scope.session_filter(Note.session_id))
            .order_by(Coding.id.desc())
        )
        found = await paging.fetch(db, query, page)
    items = [(Applied(coding, code, coder), note) for coding, note, coder in found.items]
    return code, paging.Page(items, found.number, found.size, found.total)
