"""The session record, the way minutes are: the agenda as it ran, who came (by sector,
organisation and city), the notes of each activity (hidden ones left out and counted), clusters
with their notes, vote results, the cases shared and who presented them, the outcomes, and the
summary the facilitator writes (the one change here, on the session's stream)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from labs import catalogue, events, validate
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Activity,
    Case,
    CaseShare,
    Cluster,
    LabSession,
    Note,
    NoteApproval,
    Outcome,
    Participant,
    Vote,
    VoteRound,
)
from labs.runtime import Runtime
from labs.services import sessions, votes

MAX_SUMMARY = 20_000


@dataclass
class ActivityNotes:
    activity: Activity | None  # None: notes given outside any activity
    notes: list[Note] = field(default_factory=list)
    hidden: int = 0


@dataclass
class Record:
    session: LabSession
    attendance: int
    by_sector: list[tuple[str, int]]
    by_organisation: list[tuple[str, int]]
    by_city: list[tuple[str, int]]
    activities: list[ActivityNotes]
    hidden_notes: list[Note]  # for the facilitator only
    clusters: list[tuple[Cluster, list[Note]]]
    rounds: list[tuple[VoteRound, list[dict[str, Any]]]]
    shares: list[tuple[CaseShare, Case]]
    outcomes: list[Outcome]
    votes_by_note: dict[int, int]

    def data(self, *, include_hidden: bool) -> dict[str, Any]:
        """The record as the API gives it; hidden notes only to the session's facilitators."""
        shown: dict[str, Any] = {
            "session": sessions.session_data(self.session) | {"summary": self.session.summary},
            "attendance": {
                "total": self.attendance,
                "by_sector": dict(self.by_sector),
                "by_organisation": dict(self.by_organisation),
                "by_city": dict(self.by_city),
            },
            "activities": [
                {
                    "activity_id": a.activity.id if a.activity else None,
                    "notes": [_note(n, self.votes_by_note) for n in a.notes],
                    "hidden": a.hidden,
                }
                for a in self.activities
            ],
            "clusters": [{"id": c.id, "name": c.name, "note_ids": [n.id for n in ns]} for c, ns in self.clusters],
            "votes": [
                {"round_id": r.id, "title": r.title, "status": r.status.value, "results": results}
                for r, results in self.rounds
            ],
            "cases": [
                {
                    "case_id": case.id,
                    "title": case.title,
                    "city": case.city,
                    "presenter": share.presenter,
                    "activity_id": share.activity_id,
                    "shared_at": share.shared_at.isoformat(),
                }
                for share, case in self.shares
            ],
            "outcome_ids": [o.id for o in self.outcomes],
        }
        if include_hidden:
            shown["hidden_notes"] = [_note(n, {}) for n in self.hidden_notes]
        return shown


def _note(note: Note, votes_by_note: dict[int, int]) -> dict[str, Any]:
    return {
        "id": note.id,
        "body": note.body,
        "kind": note.kind.value,
        "cluster_id": note.cluster_id,
        "case_id": note.case_id,
        "votes": votes_by_note.get(note.id, 0),
    }


def _tally(values: list[str | None], unknown: str) -> list[tuple[str, int]]:
    counts = Counter((v or "").strip() or unknown for v in values)
    return sorted(counts.items(), key=lambda item: (item[0] == unknown, -item[1], item[0].lower()))


UNKNOWN = "-"  # shown as "not given" on the page


async def session_record(rt: Runtime, session_id: int) -> Record:
    async with rt.db.read() as db:
        session = await sessions.load(db, session_id)
        people = (
            await db.execute(
                select(Participant.sector, Participant.organisation, Participant.city).where(
                    Participant.session_id == session_id
                )
            )
        ).all()
        all_notes = list(
            (
                await db.scalars(
                    select(Note).where(Note.session_id == session_id, Note.deleted.is_(False)).order_by(Note.id)
                )
            ).all()
        )
        clusters = list(
            (await db.scalars(select(Cluster).where(Cluster.session_id == session_id).order_by(Cluster.id))).all()
        )
        rounds = list(
            (await db.scalars(select(VoteRound).where(VoteRound.session_id == session_id).order_by(VoteRound.id))).all()
        )
        round_results = [(r, await votes.results(db, r.id)) for r in rounds]
        tallies: dict[int, int] = {
            note_id: int(count)
            for note_id, count in (
                await db.execute(
                    select(Vote.note_id, func.count(Vote.id))
                    .join(VoteRound, VoteRound.id == Vote.round_id)
                    .where(VoteRound.session_id == session_id)
                    .group_by(Vote.note_id)
                )
            ).all()
        }
        shares = [
            (share, case)
            for share, case in (
                await db.execute(
                    select(CaseShare, Case)
                    .join(Case, Case.id == CaseShare.case_id)
                    .where(CaseShare.session_id == session_id)
                    .order_by(CaseShare.id)
                )
            ).all()
        ]
        found_outcomes = list(
            (await db.scalars(select(Outcome).where(Outcome.session_id == session_id).order_by(Outcome.id))).all()
        )
    # Notes pre-moderation kept off the wall count with the hidden ones: never in the minutes.
    kept_off = [n for n in all_notes if n.hidden or n.approval is not NoteApproval.approved]
    shown = [n for n in all_notes if n not in kept_off]
    by_activity = {a.id: ActivityNotes(a) for a in session.activities}
    loose = ActivityNotes(None)
    for note in all_notes:
        group = by_activity.get(note.activity_id or -1, loose)
        if note in kept_off:
            group.hidden += 1
        else:
            group.notes.append(note)
    groups = list(by_activity.values()) + ([loose] if loose.notes or loose.hidden else [])
    return Record(
        session=session,
        attendance=len(people),
        by_sector=_tally([p.sector.value if p.sector else None for p in people], UNKNOWN),
        by_organisation=_tally([p.organisation for p in people], UNKNOWN),
        by_city=_tally([p.city for p in people], UNKNOWN),
        activities=groups,
        hidden_notes=kept_off,
        clusters=[(c, [n for n in shown if n.cluster_id == c.id]) for c in clusters],
        rounds=round_results,
        shares=shares,
        outcomes=found_outcomes,
        votes_by_note=tallies,
    )


async def write_summary(rt: Runtime, account: Account, session_id: int, summary: Any) -> LabSession:
    """The facilitator's summary of the session, for its record."""
    text = validate.text(summary, "summary", N_("The summary"), MAX_SUMMARY, required=True)
    async with events.change(rt) as tx:
        session = await sessions.load_for(tx.db, session_id, account)
        session.summary = text
        await tx.emit(
            Stream.session(session.id),
            catalogue.SessionSummaryWritten(session_id=session.id, summary=text),
            Actor.account(account.id),
        )
    return session
