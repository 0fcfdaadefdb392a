"""Members: the same person across the sessions of one community. A participant who joins a
community's session from a device that carries the community's long-lived cookie is that
device's member again; anyone else becomes a new member. A facilitator links a participant to an
existing member, unlinks one, or merges two members; each is an event on the community's stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, validate
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.models import Account, LabSession, Member, MemberDevice, Participant
from labs.runtime import Runtime
from labs.services import communities
from labs.services.credentials import new_token, token_digest

DEVICE_COOKIE = "labs_m{community_id}"
DEVICE_TOKEN_PREFIX = "lmd_"
DEVICE_DAYS = 730  # communities meet over years


def device_cookie(community_id: int) -> str:
    return DEVICE_COOKIE.format(community_id=community_id)


def member_data(m: Member, sessions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": m.id,
        "community_id": m.community_id,
        "display_name": m.display_name,
        "organisation": m.organisation,
        "city": m.city,
        "sector": m.sector.value if m.sector else None,
        "merged_into_id": m.merged_into_id,
        "created_at": m.created_at.isoformat(),
    }
    if sessions is not None:
        data["sessions"] = sessions
    return data


def _profile_from(member: Member, participant: Participant) -> None:
    # The member reads as the person last said of themself.
    member.display_name = participant.display_name
    member.organisation = participant.organisation
    member.city = participant.city
    member.sector = participant.sector


async def _new_member(db: AsyncSession, community_id: int, participant: Participant) -> Member:
    member = Member(community_id=community_id, display_name=participant.display_name)
    _profile_from(member, participant)
    db.add(member)
    await db.flush()
    participant.member_id = member.id
    return member


async def attach(
    tx: events.Change, session: LabSession, participant: Participant, device: str | None, actor: Actor
) -> str | None:
    """Inside a join: make the participant a member of the session's community. Returns the
    device token to keep in the community's cookie (None for a session outside a community, or
    for a proxy participant, who has no device)."""
    if session.community_id is None:
        return None
    known = None
    if device and not participant.proxy:
        known = await tx.db.scalar(
            select(MemberDevice)
            .join(Member, Member.id == MemberDevice.member_id)
            .where(MemberDevice.token_hash == token_digest(device), Member.community_id == session.community_id)
        )
    stream = Stream.community(session.community_id)
    if known is not None:
        member = await tx.db.get(Member, known.member_id)
        assert member is not None
        participant.member_id = member.id
        _profile_from(member, participant)
        known.last_seen_at = datetime.now(UTC)
        await tx.emit(
            stream,
            catalogue.MemberLinked(
                member_id=member.id, participant_id=participant.id, session_id=session.id, by="device"
            ),
            actor,
        )
        return device
    member = await _new_member(tx.db, session.community_id, participant)
    token = None
    if not participant.proxy:
        token = new_token(DEVICE_TOKEN_PREFIX)
        tx.db.add(MemberDevice(member_id=member.id, token_hash=token_digest(token)))
    await tx.emit(
        stream,
        catalogue.MemberAdded(member_id=member.id, participant_id=participant.id, session_id=session.id),
        actor,
    )
    return token


# --- reading -------------------------------------------------------------------------------


async def _member(db: AsyncSession, community_id: int, member_id: Any, field: str) -> Member:
    member = await db.get(Member, validate.integer(member_id, field))
    if member is None or member.community_id != community_id:
        raise NotFound("No such member in this community.", {field: "Unknown member."})
    if member.merged_into_id is not None:
        raise Conflict(
            "Member %(id)s was merged into member %(into)s.",
            {field: "Merged into member %(into)s."},
            id=member.id,
            into=member.merged_into_id,
        )
    return member


async def _participant(db: AsyncSession, community_id: int, participant_id: Any) -> Participant:
    participant = await db.get(Participant, validate.integer(participant_id, "participant_id"))
    session = await db.get(LabSession, participant.session_id) if participant else None
    if participant is None or session is None or session.community_id != community_id:
        raise NotFound("No such participant in this community's sessions.", {"participant_id": "Unknown participant."})
    return participant


async def appearances(rt: Runtime, member_ids: list[int]) -> dict[int, list[tuple[Participant, LabSession]]]:
    """Each member's participants with their sessions, in the order they met."""
    if not member_ids:
        return {}
    async with rt.db.read() as db:
        rows = (
            await db.execute(
                select(Participant, LabSession)
                .join(LabSession, LabSession.id == Participant.session_id)
                .where(Participant.member_id.in_(member_ids))
                .order_by(func.coalesce(LabSession.starts_at, LabSession.created_at), Participant.id)
            )
        ).all()
    found: dict[int, list[tuple[Participant, LabSession]]] = {m: [] for m in member_ids}
    for participant, session in rows:
        found[participant.member_id].append((participant, session))
    return found


async def get(rt: Runtime, account: Account, community_id: int, member_id: int) -> Member:
    async with rt.db.read() as db:
        await communities.load_for(db, community_id, account)
        member = await db.get(Member, member_id)
        if member is None or member.community_id != community_id:
            raise NotFound("No such member in this community.")
        return member


# --- a facilitator's changes ---------------------------------------------------------------


async def _absorb(db: AsyncSession, gone: Member, into: Member) -> None:
    """`gone` is now part of `into`: its devices follow, and its id points at `into` for good."""
    await db.execute(update(MemberDevice).where(MemberDevice.member_id == gone.id).values(member_id=into.id))
    gone.merged_into_id = into.id


async def link(rt: Runtime, account: Account, community_id: int, participant_id: Any, member_id: Any) -> Member:
    """The participant is this existing member (they came without their usual device)."""
    async with events.change(rt) as tx:
        await communities.load_for(tx.db, community_id, account)
        participant = await _participant(tx.db, community_id, participant_id)
        member = await _member(tx.db, community_id, member_id, "member_id")
        if participant.member_id == member.id:
            raise Conflict("This participant is already that member.", {"member_id": "Already this member."})
        was = await tx.db.get(Member, participant.member_id) if participant.member_id else None
        participant.member_id = member.id
        await tx.db.flush()
        if was is not None and not await _has_participants(tx.db, was.id):
            await _absorb(tx.db, was, member)
        await tx.emit(
            Stream.community(community_id),
            catalogue.MemberLinked(
                member_id=member.id,
                participant_id=participant.id,
                session_id=participant.session_id,
                by="facilitator",
                from_member_id=was.id if was else None,
            ),
            Actor.account(account.id),
        )
    return member


async def unlink(rt: Runtime, account: Account, community_id: int, participant_id: Any) -> Member:
    """The participant was someone else after all: they become a member of their own."""
    async with events.change(rt) as tx:
        await communities.load_for(tx.db, community_id, account)
        participant = await _participant(tx.db, community_id, participant_id)
        was = await tx.db.get(Member, participant.member_id) if participant.member_id else None
        if was is None or await _participant_count(tx.db, was.id) < 2:
            raise Conflict(
                "This participant is the only one of their member; there is nothing to unlink.",
                {"participant_id": "Already a member of their own."},
            )
        member = await _new_member(tx.db, community_id, participant)
        await tx.emit(
            Stream.community(community_id),
            catalogue.MemberUnlinked(
                member_id=was.id,
                participant_id=participant.id,
                session_id=participant.session_id,
                new_member_id=member.id,
            ),
            Actor.account(account.id),
        )
    return member


async def merge(rt: Runtime, account: Account, community_id: int, keep_id: Any, merge_id: Any) -> Member:
    """Two members are one person: everything of `merge_id` moves to `keep_id`."""
    async with events.change(rt) as tx:
        await communities.load_for(tx.db, community_id, account)
        keep = await _member(tx.db, community_id, keep_id, "keep_id")
        gone = await _member(tx.db, community_id, merge_id, "merge_id")
        if keep.id == gone.id:
            raise Invalid("Choose two different members to merge.", {"merge_id": "Choose another member."})
        moved = await _participant_count(tx.db, gone.id)
        await tx.db.execute(update(Participant).where(Participant.member_id == gone.id).values(member_id=keep.id))
        await _absorb(tx.db, gone, keep)
        await tx.emit(
            Stream.community(community_id),
            catalogue.MemberMerged(member_id=keep.id, merged_id=gone.id, participants=moved),
            Actor.account(account.id),
        )
    return keep


async def _participant_count(db: AsyncSession, member_id: int) -> int:
    return int(await db.scalar(select(func.count()).where(Participant.member_id == member_id)) or 0)


async def _has_participants(db: AsyncSession, member_id: int) -> bool:
    return await _participant_count(db, member_id) > 0
