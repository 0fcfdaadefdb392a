"""Dot voting: a round gives each participant N votes; results stay hidden until revealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.models import Account, Note, NoteApproval, Participant, Vote, VoteRound, VoteRoundStatus
from labs.runtime import Runtime
from labs.services.sessions import load_for


def round_data(vote_round: VoteRound, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": vote_round.id,
        "title": vote_round.title,
        "activity_id": vote_round.activity_id,
        "votes_per_participant": vote_round.votes_per_participant,
        "status": vote_round.status.value,
        "results": results,
    }


async def current_round(db: AsyncSession, session_id: int) -> VoteRound | None:
    return await db.scalar(
        select(VoteRound).where(VoteRound.session_id == session_id).order_by(VoteRound.id.desc()).limit(1)
    )


async def open_round(rt: Runtime, account: Account, session_id: int, votes: Any, title: str = "") -> dict[str, Any]:
    try:
        per_participant = int(votes)
    except (TypeError, ValueError):
        raise Invalid("Votes per participant must be a number.", {"votes": "A number from 1 to 20."})
    if not 1 <= per_participant <= 20:
        raise Invalid("Votes per participant must be between 1 and 20.", {"votes": "A number from 1 to 20."})
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        previous = await current_round(tx.db, session_id)
        if previous and previous.status is VoteRoundStatus.open:
            raise Conflict("A voting round is already open; close it first.")
        vote_round = VoteRound(
            session_id=session_id,
            activity_id=session.current_activity_id,
            votes_per_participant=per_participant,
            title=str(title or "")[:200],
        )
        tx.db.add(vote_round)
        await tx.db.flush()
        data = round_data(vote_round)
        await tx.emit(
            Stream.session(session_id), catalogue.build(catalogue.VoteRoundOpened, data), Actor.account(account.id)
        )
    return data


async def _used(db: AsyncSession, round_id: int, participant_id: int) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(Vote)
            .where(Vote.round_id == round_id, Vote.participant_id == participant_id)
        )
        or 0
    )


async def cast(rt: Runtime, participant: Participant, note_id: int) -> dict[str, Any]:
    async with events.change(rt) as tx:
        vote_round = await current_round(tx.db, participant.session_id)
        if vote_round is None or vote_round.status is not VoteRoundStatus.open:
            raise Conflict("Voting is not open.")
        note = await tx.db.get(Note, note_id)
        if note is None or note.session_id != participant.session_id or note.deleted or note.hidden:
            raise NotFound("No such note.")
        if note.approval is not NoteApproval.approved:  # not on the wall (yet): nobody votes on it
            raise NotFound("No such note.")
        used = await _used(tx.db, vote_round.id, participant.id)
        if used >= vote_round.votes_per_participant:
            raise Conflict("You have used all %(n)s votes.", n=vote_round.votes_per_participant)
        tx.db.add(Vote(round_id=vote_round.id, note_id=note_id, participant_id=participant.id))
        # Who voted for what stays out of the public event until reveal: only counts leave.
        data = {
            "round_id": vote_round.id,
            "participant_id": participant.id,
            "used": used + 1,
            "left": vote_round.votes_per_participant - used - 1,
            "note_id": note_id,
        }
        await tx.emit(
            Stream.session(participant.session_id), catalogue.VoteCast(**data), Actor.participant(participant.id)
        )
    return data


async def retract(rt: Runtime, participant: Participant, note_id: int) -> dict[str, Any]:
    async with events.change(rt) as tx:
        vote_round = await current_round(tx.db, participant.session_id)
        if vote_round is None or vote_round.status is not VoteRoundStatus.open:
            raise Conflict("Voting is not open.")
        vote_id = await tx.db.scalar(
            select(Vote.id)
            .where(Vote.round_id == vote_round.id, Vote.participant_id == participant.id, Vote.note_id == note_id)
            .limit(1)
        )
        if vote_id is None:
            raise NotFound("You have no vote on this note.")
        await tx.db.execute(sql_delete(Vote).where(Vote.id == vote_id))
        used = await _used(tx.db, vote_round.id, participant.id)
        data = {
            "round_id": vote_round.id,
            "participant_id": participant.id,
            "used": used,
            "left": vote_round.votes_per_participant - used,
            "note_id": note_id,
        }
        await tx.emit(
            Stream.session(participant.session_id), catalogue.VoteRetracted(**data), Actor.participant(participant.id)
        )
    return data


async def results(db: AsyncSession, round_id: int) -> list[dict[str, Any]]:
    rows = await db.execute(
        select(Note.id, Note.body, Note.kind, func.count(Vote.id))
        .join(Vote, Vote.note_id == Note.id)
        .where(
            Vote.round_id == round_id,
            Note.hidden.is_(False),
            Note.deleted.is_(False),
            Note.approval == NoteApproval.approved,
        )
        .group_by(Note.id, Note.body, Note.kind)
        .order_by(func.count(Vote.id).desc(), Note.id)
    )
    return [{"note_id": i, "body": b, "kind": k.value, "votes": n} for i, b, k, n in rows.all()]


async def close_round(rt: Runtime, account: Account, session_id: int, *, reveal: bool) -> dict[str, Any]:
    """Close voting, or reveal the results (which also closes it)."""
    async with events.change(rt) as tx:
        await load_for(tx.db, session_id, account)
        vote_round = await current_round(tx.db, session_id)
        if vote_round is None:
            raise NotFound("There is no voting round.")
        now = datetime.now(UTC)
        if vote_round.status is VoteRoundStatus.open:
            vote_round.status, vote_round.closed_at = VoteRoundStatus.closed, now
            if not reveal:
                await tx.emit(
                    Stream.session(session_id),
                    catalogue.build(catalogue.VoteRoundClosed, round_data(vote_round)),
                    Actor.account(account.id),
                )
        if reveal and vote_round.status is not VoteRoundStatus.revealed:
            vote_round.status, vote_round.revealed_at = VoteRoundStatus.revealed, now
            await tx.emit(
                Stream.session(session_id),
                catalogue.build(catalogue.VoteRevealed, round_data(vote_round, await results(tx.db, vote_round.id))),
                Actor.account(account.id),
            )
        data = round_data(vote_round)
    return data


async def state(rt: Runtime, session_id: int, participant_id: int | None = None) -> dict[str, Any] | None:
    """The current round as a view shows it: results only once revealed; a participant's own votes."""
    async with rt.db.read() as db:
        vote_round = await current_round(db, session_id)
        if vote_round is None:
            return None
        data = round_data(
            vote_round, await results(db, vote_round.id) if vote_round.status is VoteRoundStatus.revealed else None
        )
        data["ballots"] = int(
            await db.scalar(
                select(func.count(func.distinct(Vote.participant_id))).where(Vote.round_id == vote_round.id)
            )
            or 0
        )
        if participant_id is not None:
            mine = await db.scalars(
                select(Vote.note_id).where(Vote.round_id == vote_round.id, Vote.participant_id == participant_id)
            )
            data["mine"] = list(mine.all())
            data["left"] = vote_round.votes_per_participant - len(data["mine"])
        return data
