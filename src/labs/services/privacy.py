"""Privacy requests: a participant withdraws consent; an admin erases a person; the deletion log
(ids and times, never who) lets `labs privacy reapply` erase them again after an older backup is
restored. (Who hid or restored which note, and when, is labs.services.moderation_log.)

Events name people by id only, so erasing changes the tables and never the event log: every page,
export and live view reads names from the tables, where the erased person is simply gone."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Invalid, NotFound
from labs.events import Actor, Stream
from labs.models import (
    Account,
    ActorKind,
    Community,
    Consent,
    ConsentRecord,
    Erasure,
    ErasureMode,
    LabSession,
    Member,
    Note,
    Participant,
)
from labs.paging import Page
from labs.runtime import Runtime

SYSTEM = Actor(ActorKind.system)


# --- withdrawing consent -------------------------------------------------------------------


async def person_of(db: AsyncSession, participant: Participant) -> list[Participant]:
    """The participant and, when they are a member of a community, their other sessions' selves."""
    if participant.member_id is None:
        return [participant]
    rows = await db.scalars(
        select(Participant).where(Participant.member_id == participant.member_id).order_by(Participant.id)
    )
    return list(rows.all())


async def sessions_of_person(rt: Runtime, participant: Participant) -> list[LabSession]:
    """The sessions a withdrawal would cover (shown before the participant confirms)."""
    async with rt.db.read() as db:
        ids = [p.session_id for p in await person_of(db, participant)]
        rows = await db.scalars(select(LabSession).where(LabSession.id.in_(ids)).order_by(LabSession.id))
        return list(rows.all())


async def withdraw(rt: Runtime, participant: Participant) -> list[Participant]:
    """Consent becomes `none` for this participant and every session of the same member: their
    notes leave research exports, charts and replays; the wall of the session keeps them."""
    async with events.change(rt) as tx:
        me = await tx.db.get(Participant, participant.id)
        if me is None:
            raise NotFound("No such participant.")
        changed = [p for p in await person_of(tx.db, me) if p.consent is not Consent.none]
        for p in changed:
            session = await tx.db.get(LabSession, p.session_id)
            assert session is not None
            p.consent = Consent.none
            if p.token_hash:
                await rt.shared.forget(f"participant:{p.token_hash}")
            tx.db.add(
                ConsentRecord(participant_id=p.id, choice=Consent.none, text_version=session.consent_text_version)
            )
            await tx.emit(
                Stream.session(p.session_id),
                catalogue.ConsentChanged(participant_id=p.id, consent=Consent.none.value),
                Actor.participant(me.id),
            )
    return changed


# --- erasure -------------------------------------------------------------------------------


@dataclass
class Erased:
    participants: list[dict[str, Any]] = field(default_factory=list)
    member_ids: list[int] = field(default_factory=list)
    notes: int = 0


def _fingerprint(p: Participant) -> dict[str, Any]:
    # Ids and the join time: no name, organisation, city or token, yet enough to tell this row
    # from someone who joined later under the same id.
    return {"id": p.id, "session_id": p.session_id, "joined_at": p.joined_at.isoformat()}


async def _members_of(db: AsyncSession, member_id: int) -> list[int]:
    """The member and every member ever merged into it."""
    found, frontier = [member_id], [member_id]
    while frontier:
        frontier = list((await db.scalars(select(Member.id).where(Member.merged_into_id.in_(frontier)))).all())
        found += frontier
    return found


async def _erase_rows(
    rt: Runtime,
    tx: events.Change,
    people: list[Participant],
    mode: ErasureMode,
    actor: Actor,
    member_ids: list[int] | None = None,
) -> Erased:
    """Delete the participants (their votes and consent records go with them) and their members
    (with `member_ids`: those too); their notes lose their author (unlink) or go too (remove).
    One event per participant on its session's stream, one per member on its community's."""
    done = Erased()
    member_ids = list(member_ids or [])
    for p in people:
        if p.member_id is not None and p.member_id not in member_ids:
            member_ids += await _members_of(tx.db, p.member_id)
    for p in people:
        notes = Note.participant_id == p.id
        done.notes += int(await tx.db.scalar(select(func.count()).where(notes)) or 0)
        if mode is ErasureMode.remove:
            await tx.db.execute(delete(Note).where(notes))
        else:
            await tx.db.execute(update(Note).where(notes).values(participant_id=None))
        done.participants.append(_fingerprint(p))
        if p.token_hash:
            await rt.shared.forget(f"participant:{p.token_hash}")
        await tx.db.delete(p)
        await tx.db.flush()
        await tx.emit(
            Stream.session(p.session_id), catalogue.ParticipantErased(participant_id=p.id, notes=mode.value), actor
        )
    for member_id in member_ids:
        member = await tx.db.get(Member, member_id)
        if member is not None:
            await tx.db.delete(member)
            await tx.emit(Stream.community(member.community_id), catalogue.MemberErased(member_id=member_id), actor)
            done.member_ids.append(member_id)
    return done


@dataclass(frozen=True)
class Plan:
    """What erasing a participant would do, for the admin to confirm."""

    participant: Participant
    people: list[tuple[Participant, LabSession]]
    community: Community | None
    mode: ErasureMode
    notes: int


async def _scope(db: AsyncSession, participant_id: Any) -> tuple[list[Participant], Community | None, ErasureMode]:
    first = await db.get(Participant, validate.integer(participant_id, "participant_id"))
    if first is None:
        raise NotFound("No such participant.")
    session = await db.get(LabSession, first.session_id)
    community = await db.get(Community, session.community_id) if session and session.community_id else None
    return await person_of(db, first), community, community.erasure_mode if community else ErasureMode.unlink


async def plan(rt: Runtime, participant_id: Any) -> Plan:
    async with rt.db.read() as db:
        people, community, mode = await _scope(db, participant_id)
        ids = [p.id for p in people]
        notes = int(await db.scalar(select(func.count()).where(Note.participant_id.in_(ids))) or 0)
        sessions = {
            s.id: s
            for s in (
                await db.scalars(select(LabSession).where(LabSession.id.in_({p.session_id for p in people})))
            ).all()
        }
    first = next(p for p in people if p.id == int(participant_id))
    return Plan(first, [(p, sessions[p.session_id]) for p in people], community, mode, notes)


def _append(path: Path, entry: dict[str, Any]) -> None:
    """Append one line to the deletion log and make sure it is on disk before the commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def erasure_data(row: Erasure) -> dict[str, Any]:
    """An entry of the deletion log: in its file, and as the API shows it."""
    return {
        "key": row.key,
        "erased_at": row.erased_at.isoformat(),
        "mode": row.mode.value,
        "community_id": row.community_id,
        "participants": row.participants,
        "member_ids": row.member_ids,
        "notes": row.notes,
        "requested_by_id": row.requested_by_id,
    }


async def erase(rt: Runtime, account: Account, participant_id: Any) -> Erasure:
    """Erase a person: this participant and, if they are a community member, all their sessions.
    Their notes are unlinked or removed as their community says (unlinked outside a community).
    The erasure is written to the deletion log file before the commit: if the commit then fails,
    `labs privacy reapply` still finishes what was asked."""
    async with events.change(rt) as tx:
        people, community, mode = await _scope(tx.db, participant_id)
        done = await _erase_rows(rt, tx, people, mode, Actor.account(account.id))
        row = Erasure(
            key=str(uuid.uuid4()),
            participants=done.participants,
            member_ids=done.member_ids,
            community_id=community.id if community else None,
            mode=mode,
            notes=done.notes,
            requested_by_id=account.id,
            erased_at=datetime.now(UTC),
        )
        tx.db.add(row)
        await tx.db.flush()
        _append(rt.settings.deletion_log, erasure_data(row))
    return row


async def deletion_log(rt: Runtime, page: Any = 1, per_page: Any = None) -> Page[Erasure]:
    async with rt.db.read() as db:
        return await paging.fetch(
            db, select(Erasure).order_by(Erasure.erased_at.desc(), Erasure.id.desc()), page, per_page
        )


def read_log(path: Path) -> list[dict[str, Any]]:
    """The deletion log file's entries; a damaged line is a clear error, never skipped."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or not isinstance(entry.get("participants"), list):
                raise ValueError
        except ValueError:
            raise Invalid(
                "Line %(n)s of the deletion log %(path)s is not a deletion log entry.", n=number, path=str(path)
            ) from None
        entries.append(entry)
    return entries


async def _same_row(db: AsyncSession, fingerprint: dict[str, Any]) -> Participant | None:
    p = await db.get(Participant, fingerprint.get("id"))
    if p is None or p.session_id != fingerprint.get("session_id"):
        return None
    return p if p.joined_at.isoformat() == fingerprint.get("joined_at") else None


@dataclass(frozen=True)
class Reapplied:
    entries: int
    participants: int
    members: int
    restored_entries: int


async def reapply(rt: Runtime) -> Reapplied:
    """After restoring an older backup: erase again everyone the deletion log names who is back
    in the database (matched by id, session and join time), and put missing entries back in the
    log table. Safe to run any number of times."""
    entries = read_log(rt.settings.deletion_log)
    participants = members = restored = 0
    for entry in entries:
        async with events.change(rt) as tx:
            back = [p for fp in entry["participants"] if (p := await _same_row(tx.db, fp)) is not None]
            mode = ErasureMode(entry.get("mode", "unlink"))
            done = await _erase_rows(rt, tx, back, mode, SYSTEM, entry.get("member_ids") or [])
            participants += len(back)
            members += len(done.member_ids)
            if await tx.db.scalar(select(Erasure.id).where(Erasure.key == entry["key"])) is None:
                tx.db.add(
                    Erasure(
                        key=entry["key"],
                        participants=entry["participants"],
                        member_ids=entry.get("member_ids") or [],
                        community_id=entry.get("community_id"),
                        mode=mode,
                        notes=int(entry.get("notes") or 0),
                        requested_by_id=None,
                        erased_at=datetime.fromisoformat(entry["erased_at"]),
                    )
                )
                restored += 1
    return Reapplied(len(entries), participants, members, restored)
