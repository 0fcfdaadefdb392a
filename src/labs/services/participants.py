"""Joining a session without an account, consent for research use, and proxy participants."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Conflict, Forbidden, Gone, Invalid, NotFound, RateLimited
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Consent,
    ConsentRecord,
    LabSession,
    MemberDevice,
    Note,
    Participant,
    Sector,
    SessionStatus,
)
from labs.paging import Page
from labs.runtime import Runtime
from labs.services import members
from labs.services.credentials import PARTICIPANT_TOKEN_PREFIX, new_token, token_digest
from labs.services.sessions import joinable, load_for, normalise_code

MAX_NAME = 60
NOT_JOINABLE = "This session is not open for joining now. Ask the facilitator."
REMOVED = N_("You were removed from this session.")
# Other server processes may show a changed consent this much later on the participant's page.
TOKEN_CACHE_S = 30.0


def participant_data(p: Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "display_name": p.display_name,
        "organisation": p.organisation,
        "city": p.city,
        "sector": p.sector.value if p.sector else None,
        "consent": p.consent.value,
        "proxy": p.proxy,
    }


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("display_name") or "").strip()
    if not name:
        raise Invalid("Your name is required.", {"display_name": "Enter the name others will see."})
    if len(name) > MAX_NAME:
        raise Invalid("Names are at most %(n)s characters.", {"display_name": "At most %(n)s characters."}, n=MAX_NAME)
    sector = data.get("sector") or None
    return {
        "display_name": name,
        "organisation": validate.text(data.get("organisation"), "organisation", N_("The organisation"), 120) or None,
        "city": validate.text(data.get("city"), "city", N_("The city"), 120) or None,
        "sector": validate.choice(Sector, sector, "sector") if sector else None,
        "consent": validate.choice(Consent, data.get("consent"), "consent") if data.get("consent") else _no_consent(),
    }


def _no_consent() -> Consent:
    raise Invalid(
        "Choose how your notes may be used for research: none, anonymous, pseudonymous or named.",
        {"consent": "Choose one option."},
    )


class Joined(NamedTuple):
    participant: Participant
    token: str  # the participant's secret (shown once: cookie or API)
    device: str | None  # the community's device token to keep (None outside a community)


async def join(rt: Runtime, code: str, data: dict[str, Any], client: str, device: str | None = None) -> Joined:
    """Join by code. `device` is the community's device token from an earlier join, if any: the
    participant is then that device's member again."""
    if not await rt.limits.joins.take(client):
        raise RateLimited("Very many people joined from this address just now. Wait a minute and try again.")
    code = normalise_code(code)
    async with rt.db.read() as db:
        session = await db.scalar(select(LabSession).where(LabSession.join_code == code)) if code else None
    if session is None:
        if not await rt.limits.failed_joins.take(client):
            raise RateLimited("Too many attempts. Wait a minute and try again.")
        raise NotFound(
            "There is no session with this code. Check the code on the screen.", {"join_code": "Unknown code."}
        )
    if session.status is SessionStatus.closed:
        raise Gone("This session has closed. Thank you for taking part.")
    fields = _fields(data)
    if not joinable(session):
        raise Conflict(NOT_JOINABLE)
    token = new_token(PARTICIPANT_TOKEN_PREFIX)
    async with events.change(rt) as tx:
        if device and await _removed_device(tx.db, session.id, device):
            raise Forbidden(REMOVED)
        participant = Participant(session_id=session.id, token_hash=token_digest(token), **fields)
        tx.db.add(participant)
        await tx.db.flush()
        tx.db.add(
            ConsentRecord(
                participant_id=participant.id, choice=participant.consent, text_version=session.consent_text_version
            )
        )
        await tx.emit(
            Stream.session(session.id),
            catalogue.ParticipantJoined(participant_id=participant.id),
            Actor.participant(participant.id),
        )
        device = await members.attach(tx, session, participant, device, Actor.participant(participant.id))
    # A phone's first post or socket follows its join within seconds: spare it the lookup.
    await rt.shared.remember(f"participant:{participant.token_hash}", _remembered(participant), TOKEN_CACHE_S)
    return Joined(participant, token, device)


async def add_proxy(rt: Runtime, account: Account, session_id: int, data: dict[str, Any]) -> Participant:
    """A facilitator enters someone without a device; their consent is what they said aloud."""
    fields = _fields(data)
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        participant = Participant(session_id=session_id, proxy=True, **fields)
        tx.db.add(participant)
        await tx.db.flush()
        tx.db.add(
            ConsentRecord(
                participant_id=participant.id, choice=participant.consent, text_version=session.consent_text_version
            )
        )
        await tx.emit(
            Stream.session(session_id),
            catalogue.ParticipantJoined(participant_id=participant.id, proxy=True),
            Actor.account(account.id),
        )
        await members.attach(tx, session, participant, None, Actor.account(account.id))
    return participant


class NotesMode(enum.StrEnum):
    """What happens to a removed participant's notes."""

    keep = "keep"  # they stay on the wall and in the record
    remove = "remove"  # they go from every view, as if their author had deleted them


async def remove(rt: Runtime, account: Account, session_id: int, participant_id: Any, notes: Any) -> Participant:
    """A facilitator removes someone from the session (a proxy participant too): their token stops
    working at once, their open streams close, and their notes stay or go, as chosen. The row
    stays (the record still says they were there). They may join again afresh unless joining is
    locked, but not with this device's cookies."""
    mode = validate.choice(NotesMode, notes, "notes")
    pid = validate.integer(participant_id, "participant_id")
    async with events.change(rt) as tx:
        await load_for(tx.db, session_id, account)
        participant = await tx.db.get(Participant, pid)
        if participant is None or participant.session_id != session_id:
            raise NotFound("No such participant in this session.")
        if participant.removed_at is not None:
            raise Conflict("This participant was removed already.")
        now = datetime.now(UTC)
        participant.removed_at = now
        gone: list[int] = []
        if mode is NotesMode.remove:
            found = await tx.db.scalars(
                select(Note).where(Note.participant_id == pid, Note.deleted.is_(False)).order_by(Note.id)
            )
            for note in found.all():
                note.deleted, note.updated_at = True, now
                gone.append(note.id)
        await tx.emit(
            Stream.session(session_id),
            catalogue.ParticipantRemoved(participant_id=pid, notes=mode.value, note_ids=gone),
            Actor.account(account.id),
        )
    if participant.token_hash:  # committed: no worker may recognise the token from now on
        await rt.shared.forget(f"participant:{participant.token_hash}")
    return participant


async def _removed_device(db: AsyncSession, session_id: int, device: str) -> bool:
    """Whether the community device token belongs to a member who was removed from this session."""
    found = await db.scalar(
        select(Participant.id)
        .join(MemberDevice, MemberDevice.member_id == Participant.member_id)
        .where(
            MemberDevice.token_hash == token_digest(device),
            Participant.session_id == session_id,
            Participant.removed_at.is_not(None),
        )
    )
    return found is not None


async def change_consent(rt: Runtime, participant: Participant, choice: str) -> Participant:
    consent = validate.choice(Consent, choice, "consent")
    async with events.change(rt) as tx:
        current = await tx.db.get(Participant, participant.id)
        session = await tx.db.get(LabSession, participant.session_id)
        if current is None or session is None:
            raise NotFound("No such participant.")
        current.consent = consent
        tx.db.add(ConsentRecord(participant_id=current.id, choice=consent, text_version=session.consent_text_version))
        await tx.emit(
            Stream.session(session.id),
            catalogue.ConsentChanged(participant_id=current.id, consent=consent.value),
            Actor.participant(current.id),
        )
    if current.token_hash:  # committed: every worker reads the new choice from now on
        await rt.shared.forget(f"participant:{current.token_hash}")
    return current


async def by_token(rt: Runtime, token: str) -> Participant | None:
    """The participant behind a token, remembered for a short while in the shared store (tokens
    never change hands; a consent change forgets it), so a post or page costs no query for it."""
    digest = token_digest(token)
    if (known := await rt.shared.recall(f"participant:{digest}")) is not None:
        return _participant(known)
    async with rt.db.read() as db:
        participant = await db.scalar(
            select(Participant).where(Participant.token_hash == digest, Participant.removed_at.is_(None))
        )
    if participant is not None:
        await rt.shared.remember(f"participant:{digest}", _remembered(participant), TOKEN_CACHE_S)
    return participant


async def removed_by_token(rt: Runtime, token: str | None, session_id: int) -> bool:
    """Whether `token` was a participant's of this session whom a facilitator removed (their
    phone then says so, instead of asking them to join)."""
    if not token:
        return False
    async with rt.db.read() as db:
        found = await db.scalar(
            select(Participant.id).where(
                Participant.token_hash == token_digest(token),
                Participant.session_id == session_id,
                Participant.removed_at.is_not(None),
            )
        )
    return found is not None


def _remembered(p: Participant) -> dict[str, Any]:
    return {
        **{k: getattr(p, k) for k in ("id", "session_id", "member_id", "display_name", "organisation", "city")},
        **{k: getattr(p, k) for k in ("token_hash", "proxy")},
        "sector": p.sector.value if p.sector else None,
        "consent": p.consent.value,
        "joined_at": p.joined_at.isoformat(),
    }


def _participant(known: dict[str, Any]) -> Participant:
    """A participant as remembered: read-only (services load the row again to change it)."""
    return Participant(
        **{
            **known,
            "sector": Sector(known["sector"]) if known["sector"] else None,
            "consent": Consent(known["consent"]),
            "joined_at": datetime.fromisoformat(known["joined_at"]),
        }
    )


async def in_session(rt: Runtime, session_id: int) -> list[Participant]:
    async with rt.db.read() as db:
        rows = await db.scalars(
            select(Participant)
            .where(Participant.session_id == session_id, Participant.removed_at.is_(None))
            .order_by(Participant.display_name)
        )
        return list(rows.all())


ROSTER_PAGE = 20


async def roster(rt: Runtime, session_id: int, page: Any = 1) -> Page[Participant]:
    """Who is in the session now (not removed), newest first, a page at a time: the console's list."""
    query = (
        select(Participant)
        .where(Participant.session_id == session_id, Participant.removed_at.is_(None))
        .order_by(Participant.id.desc())
    )
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page, ROSTER_PAGE)


async def consent_history(rt: Runtime, participant_id: int) -> list[ConsentRecord]:
    async with rt.db.read() as db:
        rows = await db.scalars(
            select(ConsentRecord).where(ConsentRecord.participant_id == participant_id).order_by(ConsentRecord.id)
        )
        return list(rows.all())
