"""What researchers count: the overview of the sessions an account may study, and the charts'
tables. Every count reads only the sessions in the account's scope (labs.services.grants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import consent, paging, validate
from labs.errors import Invalid, NotFound
from labs.i18n import N_
from labs.models import (
    Account,
    Activity,
    Case,
    CaseShare,
    Community,
    FollowUp,
    LabSession,
    Note,
    NoteApproval,
    NoteKind,
    Outcome,
    Participant,
)
from labs.runtime import Runtime
from labs.sdgs import GOALS
from labs.services import grants


async def overview(rt: Runtime, account: Account, page: Any) -> dict[str, Any]:
    """One page of the sessions in scope, newest first, with how many took part and how many notes
    they wrote (no personal data), and the communities in scope."""
    people = select(func.count()).where(Participant.session_id == LabSession.id).scalar_subquery()
    notes = select(func.count()).where(Note.session_id == LabSession.id, Note.deleted.is_(False)).scalar_subquery()
    async with rt.db.read() as db:
        scope = await grants.scope_of(db, account)
        query = (
            select(LabSession, people, notes)
            .where(scope.session_filter(LabSession.id))
            .order_by(LabSession.starts_at.desc().nulls_last(), LabSession.id.desc())
        )
        sessions = await paging.fetch(db, query, page)
        communities = select(Community).order_by(Community.name)
        if not scope.everything:
            communities = communities.where(Community.id.in_(scope.communities))
        return {"sessions": sessions, "communities": list((await db.scalars(communities)).all()), "scope": scope}


# --- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which sessions the charts count: in a community, in a period (the session's date), in a
    city (the session's; for the case charts the case's)."""

    community_id: int | None = None
    since: date | None = None
    until: date | None = None
    city: str | None = None

    def query(self) -> str:
        """The filters as a query string (for CSV links and paging)."""
        parts = {
            "community_id": self.community_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "city": self.city,
        }
        return urlencode({k: v for k, v in parts.items() if v not in (None, "")})


def _day(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("%(field)s must be a date (YYYY-MM-DD).", {field: "Give a date (YYYY-MM-DD)."}, field=field)


def filters(data: Any) -> Filters:
    """Filters from a query string; a clear 400 for a bad date or a period that ends before it starts."""
    community = data.get("community_id")
    result = Filters(
        community_id=validate.integer(community, "community_id") if community not in (None, "") else None,
        since=_day(data.get("since"), "since"),
        until=_day(data.get("until"), "until"),
        city=validate.text(data.get("city"), "city", N_("The city"), 120) or None,
    )
    if result.since and result.until and result.until < result.since:
        raise Invalid("The period ends before it starts.", {"until": "Choose a date after the start."})
    return result


@dataclass(frozen=True)
class Table:
    """One chart's data: the CSV columns and rows, the same numbers the picture draws."""

    key: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


CHARTS = (
    "sdg_topics",
    "notes_by_activity",
    "boosters_barriers_by_case",
    "boosters_barriers_by_topic",
    "participation",
    "outcome_funnel",
    "time_to_adoption",
    "returning_members",
)
KIND_ORDER = tuple(k.value for k in NoteKind)
ADOPTED = ("adopted", "adapted", "scaled")
FUNNEL = ("recorded", "in_progress", "adopted")


class _Counter:
    def __init__(self, db: AsyncSession, scope: grants.Scope, f: Filters) -> None:
        self.db, self.scope, self.f = db, scope, f

    def sessions(self) -> Select[Any]:
        """Ids of the sessions in scope that pass the filters."""
        when = func.coalesce(LabSession.starts_at, LabSession.started_at, LabSession.created_at)
        query = select(LabSession.id).where(self.scope.session_filter(LabSession.id))
        if self.f.community_id is not None:
            query = query.where(LabSession.community_id == self.f.community_id)
        if self.f.since is not None:
            query = query.where(when >= datetime.combine(self.f.since, time.min, tzinfo=UTC))
        if self.f.until is not None:
            query = query.where(when < datetime.combine(self.f.until + timedelta(days=1), time.min, tzinfo=UTC))
        if self.f.city:
            query = query.where(func.lower(LabSession.city) == self.f.city.lower())
        return query

    async def cases(self) -> list[Case]:
        """Cases shared in (or derived from outcomes of) the filtered sessions; with no session
        filter, an admin counts the whole library. The city filter is the case's city."""
        query = select(Case).order_by(Case.title)
        unfiltered = self.f.community_id is None and self.f.since is None and self.f.until is None
        if not (self.scope.everything and unfiltered):
            sessions = self.sessions()
            shared = select(CaseShare.case_id).where(CaseShare.session_id.in_(sessions))
            derived = (
                select(Case.id)
                .join(Outcome, Case.from_outcome_id == Outcome.id)
                .where(Outcome.session_id.in_(sessions))
            )
            query = query.where(or_(Case.id.in_(shared), Case.id.in_(derived)))
        if self.f.city:
            query = query.where(func.lower(Case.city) == self.f.city.lower())
        return list((await self.db.scalars(query)).all())

    def notes(self) -> Select[Any]:
        """Notes that count: in the filtered sessions, neither hidden nor deleted, and not of a
        participant who chose no research use."""
        return (
            select(Note)
            .outerjoin(Participant, Participant.id == Note.participant_id)
            .where(
                Note.session_id.in_(self.sessions()),
                Note.hidden.is_(False),
                Note.approval == NoteApproval.approved,
                Note.deleted.is_(False),
                or_(Note.participant_id.is_(None), consent.counted()),
            )
        )

    # --- the tables -------------------------------------------------------------------------

    async def sdg_topics(self) -> Table:
        counts: dict[tuple[int, str], int] = {}
        for case in await self.cases():
            for sdg in sorted(set(case.sdgs or [])):
                for topic in sorted(set(case.topics or [])):
                    counts[(sdg, topic)] = counts.get((sdg, topic), 0) + 1
        # The goal's official short name (English; pages and CSV give the reader's language).
        rows = [(sdg, GOALS[sdg].name, topic, n) for (sdg, topic), n in sorted(counts.items()) if sdg in GOALS]
        return Table("sdg_topics", ("sdg", "sdg_name", "topic", "cases"), rows)

    async def notes_by_activity(self) -> Table:
        notes = self.notes().subquery()
        query = (
            select(LabSession.title, Activity.position, Activity.title, notes.c.kind, func.count())
            .select_from(notes)
            .join(LabSession, LabSession.id == notes.c.session_id)
            .outerjoin(Activity, Activity.id == notes.c.activity_id)
            .group_by(LabSession.id, LabSession.title, Activity.id, Activity.position, Activity.title, notes.c.kind)
            .order_by(LabSession.id, Activity.position)
        )
        table: dict[tuple[str, str], dict[str, int]] = {}
        for session, _, activity, kind, n in (await self.db.execute(query)).all():
            kind = kind.value if hasattr(kind, "value") else str(kind)
            table.setdefault((session, activity or ""), {})[kind] = n
        rows = [(s, a, *(by.get(k, 0) for k in KIND_ORDER)) for (s, a), by in table.items()]
        return Table("notes_by_activity", ("session", "activity", *KIND_ORDER), rows)

    async def _boosters_barriers(self) -> list[tuple[Case, int, int]]:
        notes = self.notes().where(Note.kind.in_([NoteKind.booster, NoteKind.barrier]), Note.case_id.is_not(None))
        counted: dict[int, list[int]] = {}
        for note in (await self.db.scalars(notes)).all():
            pair = counted.setdefault(note.case_id or 0, [0, 0])
            pair[0 if note.kind is NoteKind.booster else 1] += 1
        cases = {c.id: c for c in await self.cases()}
        return [(cases[i], b, r) for i, (b, r) in counted.items() if i in cases]

    async def boosters_barriers_by_case(self) -> Table:
        rows = sorted(((c.title, c.city, b, r) for c, b, r in await self._boosters_barriers()), key=lambda x: x[0])
        return Table("boosters_barriers_by_case", ("case", "city", "boosters", "barriers"), rows)

    async def boosters_barriers_by_topic(self) -> Table:
        by_topic: dict[str, list[int]] = {}
        for case, boosters, barriers in await self._boosters_barriers():
            for topic in sorted(set(case.topics or [])):
                pair = by_topic.setdefault(topic, [0, 0])
                pair[0] += boosters
                pair[1] += barriers
        rows = [(topic, b, r) for topic, (b, r) in sorted(by_topic.items())]
        return Table("boosters_barriers_by_topic", ("topic", "boosters", "barriers"), rows)

    async def participation(self) -> Table:
        query = (
            select(Participant.city, Participant.sector, func.count())
            .where(Participant.session_id.in_(self.sessions()), consent.counted())
            .group_by(Participant.city, Participant.sector)
        )
        rows = sorted(
            (
                (city or "", sector.value if sector else "", n)
                for city, sector, n in (await self.db.execute(query)).all()
            ),
            key=lambda r: (r[0] == "", r[0], r[1]),
        )
        return Table("participation", ("city", "sector", "participants"), rows)

    async def _outcomes(self) -> list[tuple[Outcome, LabSession, list[FollowUp], Case | None]]:
        query = (
            select(Outcome, LabSession)
            .join(LabSession, LabSession.id == Outcome.session_id)
            .where(Outcome.session_id.in_(self.sessions()))
            .order_by(Outcome.id)
        )
        found = []
        for outcome, session in (await self.db.execute(query)).all():
            checks = (await self.db.scalars(select(FollowUp).where(FollowUp.outcome_id == outcome.id))).all()
            derived = await self.db.scalar(
                select(Case).where(Case.from_outcome_id == outcome.id).order_by(Case.created_at).limit(1)
            )
            found.append((outcome, session, list(checks), derived))
        return found

    async def outcome_funnel(self) -> Table:
        reached = dict.fromkeys(FUNNEL, 0)
        for _, _, checks, derived in await self._outcomes():
            stage = _stage(checks, derived)
            for name in FUNNEL[: FUNNEL.index(stage) + 1]:
                reached[name] += 1
        return Table("outcome_funnel", ("stage", "outcomes"), [(s, reached[s]) for s in FUNNEL])

    async def time_to_adoption(self) -> Table:
        rows = []
        for outcome, session, checks, derived in await self._outcomes():
            adopted = _adopted_at(outcome, checks, derived)
            held = session.starts_at or session.started_at
            if adopted is not None and held is not None:
                rows.append((outcome.title, session.title, held.date(), adopted, (adopted - held.date()).days))
        return Table("time_to_adoption", ("outcome", "session", "session_on", "adopted_on", "days"), rows)

    async def returning_members(self) -> Table:
        """Per session of each community in the filter, members who came for the first time and
        members who had come before (participants who chose no research use not counted)."""
        query = (
            select(LabSession.id, LabSession.title, LabSession.community_id, Participant.member_id)
            .join(Participant, Participant.session_id == LabSession.id)
            .where(
                LabSession.id.in_(self.sessions()),
                LabSession.community_id.is_not(None),
                Participant.member_id.is_not(None),
                consent.counted(),
            )
            .order_by(func.coalesce(LabSession.starts_at, LabSession.started_at, LabSession.created_at), LabSession.id)
        )
        attended: dict[int, tuple[str, int, set[int]]] = {}  # in the order sessions were held
        for session_id, title, community_id, member_id in (await self.db.execute(query)).all():
            attended.setdefault(session_id, (title, community_id, set()))[2].add(member_id)
        seen: dict[int, set[int]] = {}
        rows = []
        for title, community_id, members in attended.values():
            before = seen.setdefault(community_id, set())
            rows.append((title, len(members - before), len(members & before)))
            before |= members
        return Table("returning_members", ("session", "new", "returning"), rows)


def _stage(checks: list[FollowUp], derived: Case | None) -> str:
    """How far an outcome got: a check-in reporting it in progress, or an adoption (reported in a
    check-in, or a case derived from it)."""
    progress = {_progress(c) for c in checks}
    if derived is not None or progress & set(ADOPTED):
        return "adopted"
    if "in_progress" in progress:
        return "in_progress"
    return "recorded"


def _progress(check: FollowUp) -> str | None:
    return check.progress.value if check.progress is not None else None


def _adopted_at(outcome: Outcome, checks: list[FollowUp], derived: Case | None) -> date | None:
    """When the practice was adopted: the first check-in that said so; else, for an outcome that
    became a derived case, when the outcome says it happened (or when the case was made)."""
    reported = [c.done_at.date() for c in checks if _progress(c) in ADOPTED and c.done_at is not None]
    if reported:
        return min(reported)
    if derived is None:
        return None
    return outcome.when_on or derived.created_at.date()


async def chart_tables(rt: Runtime, account: Account, f: Filters, only: str | None = None) -> list[Table]:
    """The tables of every chart (or of chart `only`), for the account's scope and the filters.
    A community filter outside the scope is 404, like the community itself."""
    if only is not None and only not in CHARTS:
        raise NotFound("No such chart.")
    async with rt.db.read() as db:
        scope = await grants.scope_of(db, account)
        if f.community_id is not None and not await _community_visible(db, scope, f.community_id):
            raise NotFound("No such community.")
        counter = _Counter(db, scope, f)
        return [await getattr(counter, key)() for key in CHARTS if only in (None, key)]


async def _community_visible(db: AsyncSession, scope: grants.Scope, community_id: int) -> bool:
    """A community is a filter for whoever may see it or one of its sessions."""
    if await db.get(Community, community_id) is None:
        return False
    if scope.has_community(community_id):
        return True
    some = select(LabSession.id).where(LabSession.community_id == community_id, scope.session_filter(LabSession.id))
    return await db.scalar(some.limit(1)) is not None


async def filter_choices(rt: Runtime, account: Account) -> dict[str, list[Any]]:
    """The communities and cities the filter form offers: those of the sessions in scope."""
    async with rt.db.read() as db:
        scope = await grants.scope_of(db, account)
        in_scope = select(LabSession).where(scope.session_filter(LabSession.id))
        sessions = list((await db.scalars(in_scope)).all())
        ids = {s.community_id for s in sessions if s.community_id is not None} | set(scope.communities)
        communities = (
            list((await db.scalars(select(Community).where(Community.id.in_(ids)).order_by(Community.name))).all())
            if ids
            else []
        )
        return {"communities": communities, "cities": sorted({s.city for s in sessions if s.city})}
