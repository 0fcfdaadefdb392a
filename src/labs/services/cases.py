"""Cases: urban projects and initiatives people share. The library: create, edit, archive and
delete cases, find them by SDG, topic, city, country, stage or full text, and read everything a
case led to. "Share a project": anyone submits a project without an account; it waits as a
submitted case until a facilitator or admin accepts (perhaps edited) or rejects it. A case is
presented in sessions, and an adopted practice becomes a new case derived from the one it learned
from (`derive_case`).

Every change is one function writing the case and its event on the case's own stream
(`Stream.case(id)`); sharing into a session goes on the session's stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, exists, func, select, text
from sqlalchemy import case as when
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Activity,
    ActorKind,
    Case,
    CaseShare,
    CaseStage,
    CaseStatus,
    CaseSubmission,
    LabSession,
    Note,
    NoteApproval,
    NoteKind,
    Outcome,
    OutcomeSource,
    Role,
    SessionStatus,
)
from labs.paging import Page
from labs.runtime import Runtime
from labs.services.sessions import load_for

MAX_TITLE = 200
MAX_CITY = 120
MAX_TEXT = 5000
MAX_ORGANISATION = 200
MAX_TOPIC = 40
MAX_TOPICS = 12
MAX_URL = 500
MAX_LINKS = 10
MAX_PRESENTER = 120
MAX_NAME = 120
MAX_EMAIL = 254
SDG_RANGE = range(1, 18)
PER_PAGE = 25
MAX_PER_PAGE = paging.MAX_PER_PAGE
NOTES_PER_PAGE = 50
MAX_SEARCH_TERMS = 8
# The case page reads notes in this order, grouped by kind.
NOTE_GROUPS = (NoteKind.booster, NoteKind.barrier, NoteKind.question, NoteKind.idea, NoteKind.insight, NoteKind.action)
FILTERS = ("q", "sdg", "topic", "city", "country", "stage", "status")
# What the library lists; submitted and rejected cases live in the review queue.
LIBRARY = (CaseStatus.published, CaseStatus.archived)

# Two-letter codes Babel knows that are not countries (or are placeholders).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WORD = re.compile(r"\w+")


@cache
def countries() -> frozenset[str]:
    from babel import Locale

    codes = (str(code) for code in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


# --- shapes --------------------------------------------------------------------------------


def case_data(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "summary": case.summary,
        "city": case.city,
        "country": case.country,
        "sdgs": list(case.sdgs or []),
        "topics": list(case.topics or []),
        "stage": case.stage.value,
        "organisation": case.organisation,
        "links": list(case.links or []),
        "boosters": case.boosters,
        "barriers": case.barriers,
        "status": case.status.value,
        "derived_from_id": case.derived_from_id,
        "from_outcome_id": case.from_outcome_id,
        "created_at": case.created_at.isoformat() if case.created_at else None,
        "updated_at": case.updated_at.isoformat() if case.updated_at else None,
    }


def case_state(case: Case) -> catalogue.CaseState:
    data = case_data(case)
    data.pop("created_at")
    data.pop("updated_at")
    return catalogue.CaseState(**data)


def share_data(share: CaseShare, case: Case) -> dict[str, Any]:
    return {
        "id": share.id,
        "case_id": share.case_id,
        "session_id": share.session_id,
        "activity_id": share.activity_id,
        "presenter": share.presenter,
        "case": case_data(case),
    }


def submission_data(submission: CaseSubmission, case: Case) -> dict[str, Any]:
    """For reviewers only: it holds the submitter's email."""
    return {
        "id": submission.id,
        "name": submission.name,
        "email": submission.email,
        "language": submission.language,
        "submitted_at": submission.submitted_at.isoformat(),
        "reviewed_at": submission.reviewed_at.isoformat() if submission.reviewed_at else None,
        "reviewed_by_id": submission.reviewed_by_id,
        "reason": submission.reason,
        "case": case_data(case),
    }


# --- validation ----------------------------------------------------------------------------


def _country(value: Any) -> str:
    code = str(value or "").strip().upper()
    if not code:
        raise Invalid("The country is required.", {"country": "Give the two-letter country code, e.g. NL."})
    if len(code) != 2 or code not in countries():
        raise Invalid(
            "Unknown country code %(value)r; use the ISO 3166-1 two-letter code (NL, BE, DE, DK, ES…).",
            {"country": "A two-letter ISO country code, e.g. NL."},
            value=str(value),
        )
    return code


def _sdg(item: Any) -> int:
    try:
        if isinstance(item, bool | float):
            raise ValueError
        goal = item if isinstance(item, int) else int(str(item).strip())
    except (TypeError, ValueError):
        raise Invalid(
            "SDG %(value)r is not a number; the goals are numbered 1 to 17.",
            {"sdgs": "Numbers from 1 to 17."},
            value=str(item),
        ) from None
    if goal not in SDG_RANGE:
        raise Invalid(
            "There is no SDG %(value)s; the goals are numbered 1 to 17.", {"sdgs": "Numbers from 1 to 17."}, value=goal
        )
    return goal


def _sdgs(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, str | int):
        value = [part for part in str(value).replace(";", ",").split(",") if part.strip()]
    if not isinstance(value, Iterable):
        raise Invalid("SDGs must be a list of numbers from 1 to 17.", {"sdgs": "Numbers from 1 to 17."})
    return sorted({_sdg(item) for item in value})


def _topics(value: Any) -> list[str]:
    """Short topics; "," and ";" separate them (in forms and CSV), so no topic holds one."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, Iterable):
        raise Invalid("Topics must be a list of short words.", {"topics": "A list of short topics."})
    topics: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise Invalid("Each topic must be text.", {"topics": "A list of short topics."})
        topic = " ".join(item.split())
        if not topic:
            continue
        if "," in topic or ";" in topic:
            raise Invalid("A topic cannot contain “,” or “;”.", {"topics": "Separate topics with commas."})
        if len(topic) > MAX_TOPIC:
            raise Invalid(
                "Topic %(value)r is longer than %(limit)s characters.",
                {"topics": "Each topic at most %(limit)s characters."},
                value=topic,
                limit=MAX_TOPIC,
            )
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        raise Invalid("At most %(limit)s topics per case.", {"topics": "At most %(limit)s topics."}, limit=MAX_TOPICS)
    return topics


def _links(value: Any) -> list[str]:
    """Web links, one per line (or separated by spaces: a link has none)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, Iterable):
        raise Invalid("Links must be a list of web addresses.", {"links": "One https:// link per line."})
    links: list[str] = []
    for item in value:
        url = str(item or "").strip()
        if not url:
            continue
        if len(url) > MAX_URL or any(c.isspace() for c in url):
            raise Invalid(
                "A link is at most %(limit)s characters, without spaces.",
                {"links": "One https:// link per line."},
                limit=MAX_URL,
            )
        if not url.lower().startswith(("http://", "https://")):
            raise Invalid(
                "The link %(value)r must start with http:// or https://.",
                {"links": "Start each link with https://."},
                value=url,
            )
        if url not in links:
            links.append(url)
    if len(links) > MAX_LINKS:
        raise Invalid("At most %(limit)s links per case.", {"links": "At most %(limit)s links."}, limit=MAX_LINKS)
    return links


def _stage(value: Any) -> CaseStage:
    return validate.choice(CaseStage, value or "idea", "stage")


# Each field's check; the form, the API, the CSV import and the review all use these.
CHECKS: dict[str, Callable[[Any], Any]] = {
    "title": lambda v: validate.text(v, "title", N_("The title"), MAX_TITLE, required=True),
    "summary": lambda v: validate.text(v, "summary", N_("The summary"), MAX_TEXT),
    "city": lambda v: validate.text(v, "city", N_("The city"), MAX_CITY, required=True),
    "country": _country,
    "sdgs": _sdgs,
    "topics": _topics,
    "stage": _stage,
    "organisation": lambda v: validate.text(v, "organisation", N_("The organisation"), MAX_ORGANISATION) or None,
    "links": _links,
    "boosters": lambda v: validate.text(v, "boosters", N_("The boosters"), MAX_TEXT),
    "barriers": lambda v: validate.text(v, "barriers", N_("The barriers"), MAX_TEXT),
}


def field_problems(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    """Every field of a case checked: the good values, and one error per bad field."""
    fields: dict[str, Any] = {}
    problems: list[Invalid] = []
    for name, check in CHECKS.items():
        try:
            fields[name] = check(data.get(name))
        except Invalid as e:
            problems.append(e)
    return fields, problems


def _all(problems: list[Invalid]) -> None:
    """Raise the first problem, carrying every problem's field errors (each form field shows its own)."""
    if problems:
        first = problems[0]
        for other in problems[1:]:
            first.field_errors.update(other.field_errors)
        raise first


def check_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    fields, problems = field_problems(data)
    _all(problems)
    return fields


def _editable(data: Mapping[str, Any], case: Case) -> dict[str, Any]:
    """The fields given in `data`, over what the case has now (an update may name only some)."""
    current = {name: getattr(case, name) for name in CHECKS}
    current["stage"] = case.stage.value
    return check_fields({**current, **{k: v for k, v in data.items() if k in CHECKS}})


def _may_edit(account: Account) -> None:
    if account.role not in (Role.admin, Role.facilitator):
        raise Forbidden("Only facilitators and admins can change the case library.")


async def _load(db: AsyncSession, case_id: Any) -> Case:
    case = await db.get(Case, validate.integer(case_id, "case_id"))
    if case is None:
        raise NotFound("No such case.")
    return case


# --- the search index (SQLite; PostgreSQL indexes an expression of the row itself) -------------


def _is_sqlite(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "sqlite"


async def _index(db: AsyncSession, *cases: Case, new: bool = False) -> None:
    """Write the cases into the search table (SQLite; PostgreSQL indexes the row itself)."""
    if not cases or not _is_sqlite(db):
        return
    if not new:
        await db.execute(text("DELETE FROM case_search WHERE rowid = :id"), [{"id": c.id} for c in cases])
    await db.execute(
        text(
            "INSERT INTO case_search (rowid, title, summary, place, organisation, boosters, barriers, topics)"
            " VALUES (:id, :title, :summary, :place, :organisation, :boosters, :barriers, :topics)"
        ),
        [
            {
                "id": c.id,
                "title": c.title,
                "summary": c.summary,
                "place": f"{c.city} {c.country}",
                "organisation": c.organisation or "",
                "boosters": c.boosters,
                "barriers": c.barriers,
                "topics": " ".join(c.topics or []),
            }
            for c in cases
        ],
    )


def search_terms(q: str) -> list[str]:
    """The words of a search, lower case: every one must match (as a word or its start)."""
    return [w.lower() for w in _WORD.findall(q)][:MAX_SEARCH_TERMS]


def _matches(terms: Sequence[str], sqlite: bool) -> ColumnElement[bool]:
    if sqlite:
        match = " ".join(f'"{t}"*' for t in terms)
        return Case.id.in_(
            select(text("rowid")).select_from(text("case_search")).where(text("case_search MATCH :match"))
        ).params(match=match)
    from labs.models import CASE_SEARCH_PG

    query = " & ".join(f"{t}:*" for t in terms)
    return text(f"{CASE_SEARCH_PG} @@ to_tsquery('simple', :tsquery)").bindparams(tsquery=query)  # type: ignore[return-value]


def _elements(column: Any, sqlite: bool) -> Any:
    """A JSON list column's elements as rows with one column, "value"."""
    fn = func.json_each if sqlite else func.jsonb_array_elements_text
    return fn(column).table_valued("value")


# --- reading -------------------------------------------------------------------------------


async def get_case(rt: Runtime, case_id: int) -> Case:
    async with rt.db.read() as db:
        return await _load(db, case_id)


def clean_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filters that are set, checked: q (words), sdg (1 to 17), topic, city, country, stage,
    status (published, the default, or archived)."""
    given = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(given) - set(FILTERS)
    if unknown:
        raise Invalid(
            "Unknown case filter %(value)r; allowed: %(allowed)s.",
            value=sorted(unknown)[0],
            allowed=", ".join(FILTERS),
        )
    clean: dict[str, Any] = {}
    if "q" in given and (terms := search_terms(str(given["q"]))):
        clean["q"] = terms
    if "sdg" in given:
        clean["sdg"] = _sdg(given["sdg"])
    if "topic" in given and (topic := " ".join(str(given["topic"]).split()).casefold()):
        clean["topic"] = topic
    if "city" in given and (city := str(given["city"]).strip().lower()):
        clean["city"] = city
    if "country" in given:
        clean["country"] = str(given["country"]).strip().upper()
    if "stage" in given:
        clean["stage"] = _stage(given["stage"])
    status = validate.choice(CaseStatus, given.get("status") or "published", "status")
    if status not in LIBRARY:
        raise Invalid(
            "The library lists published or archived cases; submissions are in the review queue.",
            {"status": "published or archived"},
        )
    clean["status"] = status
    return clean


def _where(query: Select[Any], f: Mapping[str, Any], sqlite: bool) -> Select[Any]:
    query = query.where(Case.status == f["status"])
    if "q" in f:
        query = query.where(_matches(f["q"], sqlite))
    if "sdg" in f:
        goals = _elements(Case.sdgs, sqlite)
        query = query.where(exists(select(1).select_from(goals).where(cast(goals.c.value, String) == str(f["sdg"]))))
    if "topic" in f:
        topics = _elements(Case.topics, sqlite)
        query = query.where(exists(select(1).select_from(topics).where(func.lower(topics.c.value) == f["topic"])))
    if "city" in f:
        query = query.where(func.lower(Case.city) == f["city"])
    if "country" in f:
        query = query.where(Case.country == f["country"])
    if "stage" in f:
        query = query.where(Case.stage == f["stage"])
    return query


async def list_cases(
    rt: Runtime, filters: Mapping[str, Any] | None = None, *, page: Any = 1, per_page: Any = PER_PAGE
) -> Page:
    """One page of the library, newest first, with every filter combined (AND)."""
    f = clean_filters(filters)
    number, size = paging.numbers(page, per_page)
    async with rt.db.read() as db:
        sqlite = _is_sqlite(db)
        total = await db.scalar(_where(select(func.count(Case.id)), f, sqlite)) or 0
        rows = await db.scalars(
            _where(select(Case), f, sqlite)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(size)
            .offset((number - 1) * size)
        )
        return Page(list(rows.all()), number, size, total)


async def topic_suggestions(rt: Runtime, limit: int = 200) -> list[str]:
    """Topics already used in the library, most used first (what the form suggests)."""
    async with rt.db.read() as db:
        topics = _elements(Case.topics, _is_sqlite(db))
        used = func.count().label("used")
        rows = await db.execute(
            select(topics.c.value, used)
            .select_from(Case)
            .join(topics, text("true"))
            .where(Case.status.in_(LIBRARY))
            .group_by(topics.c.value)
            .order_by(used.desc(), topics.c.value)
            .limit(limit)
        )
        seen: dict[str, str] = {}
        for value, _count in rows.all():
            seen.setdefault(str(value).casefold(), str(value))
        return list(seen.values())


async def places(rt: Runtime, limit: int = 500) -> dict[str, list[str]]:
    """Cities and countries in the library (for the filters' choices)."""
    async with rt.db.read() as db:
        in_library = Case.status.in_(LIBRARY)
        cities = await db.scalars(select(Case.city).where(in_library).distinct().order_by(Case.city).limit(limit))
        codes = await db.scalars(select(Case.country).where(in_library).distinct().order_by(Case.country))
        return {"cities": list(cities.all()), "countries": list(codes.all())}


async def shares_of(rt: Runtime, case_id: int) -> list[CaseShare]:
    """Where and when a case was presented."""
    async with rt.db.read() as db:
        rows = await db.scalars(select(CaseShare).where(CaseShare.case_id == case_id).order_by(CaseShare.id))
        return list(rows.all())


async def shared_in(rt: Runtime, session_id: int) -> list[Case]:
    """The cases presented in a session, in the order they were shared (each once)."""
    async with rt.db.read() as db:
        rows = await db.scalars(
            select(Case)
            .join(CaseShare, CaseShare.case_id == Case.id)
            .where(CaseShare.session_id == session_id)
            .order_by(CaseShare.id)
        )
        seen: dict[int, Case] = {}
        for case in rows.all():
            seen.setdefault(case.id, case)
        return list(seen.values())


@dataclass
class Shared:
    share: CaseShare
    session: LabSession


@dataclass
class CaseRecord:
    """Everything the case page shows."""

    case: Case
    derived_from: Case | None
    shares: list[Shared]
    # The visible feedback notes of this page, grouped by kind (NOTE_GROUPS order).
    notes: list[tuple[str, list[Note]]]
    note_counts: dict[str, int]
    notes_page: Page
    outcomes: list[Outcome]
    derived: list[Case]
    submission: CaseSubmission | None
    blockers: dict[str, int] = field(default_factory=dict)


def _visible_notes(case_id: int) -> ColumnElement[bool]:
    # Hidden and deleted notes never leave the session's console.
    return (
        (Note.case_id == case_id)
        & Note.hidden.is_(False)
        & Note.deleted.is_(False)
        & (Note.approval == NoteApproval.approved)
    )


async def case_record(rt: Runtime, case_id: int, notes_page: Any = 1) -> CaseRecord:
    number, size = paging.numbers(notes_page, NOTES_PER_PAGE)
    order = {kind: i for i, kind in enumerate(NOTE_GROUPS)}
    async with rt.db.read() as db:
        case = await _load(db, case_id)
        origin = await db.get(Case, case.derived_from_id) if case.derived_from_id else None
        shares = (
            await db.execute(
                select(CaseShare, LabSession)
                .join(LabSession, LabSession.id == CaseShare.session_id)
                .where(CaseShare.case_id == case.id)
                .order_by(CaseShare.shared_at.desc(), CaseShare.id.desc())
                .limit(MAX_PER_PAGE)
            )
        ).all()
        counted = await db.execute(select(Note.kind, func.count()).where(_visible_notes(case.id)).group_by(Note.kind))
        counts: dict[NoteKind, int] = {kind: n for kind, n in counted.all()}
        kind_order = when({kind.value: i for kind, i in order.items()}, value=Note.kind, else_=len(order))
        notes = (
            await db.scalars(
                select(Note)
                .where(_visible_notes(case.id))
                .order_by(kind_order, Note.created_at, Note.id)
                .limit(size)
                .offset((number - 1) * size)
            )
        ).all()
        outcomes = (
            await db.scalars(
                select(Outcome)
                .where(Outcome.id.in_(select(OutcomeSource.outcome_id).where(OutcomeSource.case_id == case.id)))
                .order_by(Outcome.created_at.desc(), Outcome.id.desc())
                .limit(MAX_PER_PAGE)
            )
        ).all()
        derived = (
            await db.scalars(
                select(Case)
                .where(Case.derived_from_id == case.id, Case.status.in_(LIBRARY))
                .order_by(Case.created_at, Case.id)
                .limit(MAX_PER_PAGE)
            )
        ).all()
        submission = await db.scalar(select(CaseSubmission).where(CaseSubmission.case_id == case.id))
        blockers = await _blockers(db, case.id)
    groups: dict[str, list[Note]] = {}
    for note in notes:
        groups.setdefault(note.kind.value, []).append(note)
    total = sum(counts.values())
    return CaseRecord(
        case=case,
        derived_from=origin,
        shares=[Shared(share, session) for share, session in shares],
        notes=[(kind.value, groups[kind.value]) for kind in NOTE_GROUPS if kind.value in groups],
        note_counts={kind.value: counts.get(kind, 0) for kind in NOTE_GROUPS},
        notes_page=Page(list(notes), number, size, total),
        outcomes=list(outcomes),
        derived=list(derived),
        submission=submission,
        blockers=blockers,
    )


async def _blockers(db: AsyncSession, case_id: int) -> dict[str, int]:
    """What points at a case (and so keeps it from being deleted): counts by kind, only those > 0."""
    counts = {
        "notes": await db.scalar(select(func.count(Note.id)).where(Note.case_id == case_id)),
        "outcomes": await db.scalar(
            select(func.count(func.distinct(OutcomeSource.outcome_id))).where(OutcomeSource.case_id == case_id)
        ),
        "shares": await db.scalar(select(func.count(CaseShare.id)).where(CaseShare.case_id == case_id)),
        "derived": await db.scalar(select(func.count(Case.id)).where(Case.derived_from_id == case_id)),
    }
    return {k: int(v) for k, v in counts.items() if v}


# --- changes -------------------------------------------------------------------------------


def _by(account: Account) -> Actor:
    return Actor.account(account.id)


async def create_case(rt: Runtime, account: Account, data: Mapping[str, Any]) -> Case:
    """A facilitator or admin adds a case to the library."""
    _may_edit(account)
    fields = check_fields(data)
    async with events.change(rt) as tx:
        return await add_case(tx, account, fields)


async def add_case(tx: events.Change, account: Account, fields: dict[str, Any]) -> Case:
    """Inside a change: a published case from checked fields (check_fields), with its event; for a
    caller whose own change makes the case (a finished experiment)."""
    _may_edit(account)
    case = Case(**fields, status=CaseStatus.published, created_by_id=account.id)
    tx.db.add(case)
    await tx.db.flush()
    await _index(tx.db, case, new=True)
    await tx.emit(Stream.case(case.id), catalogue.CaseCreated(case=case_state(case), source="library"), _by(account))
    return case


async def update_case(rt: Runtime, account: Account, case_id: int, data: Mapping[str, Any]) -> Case:
    """Change some or all fields of a case in the library (fields not given keep their value)."""
    _may_edit(account)
    async with events.change(rt) as tx:
        case = await _load(tx.db, case_id)
        if case.status not in LIBRARY:
            raise Conflict("This case is waiting for review; accept or reject it in the review queue.")
        fields = _editable(data, case)
        changed = [name for name, value in fields.items() if getattr(case, name) != value]
        if not changed:
            return case
        for name in changed:
            setattr(case, name, fields[name])
        case.updated_at = datetime.now(UTC)
        await tx.db.flush()
        await _index(tx.db, case)
        await tx.emit(Stream.case(case.id), catalogue.CaseUpdated(case=case_state(case), changed=changed), _by(account))
    return case


async def _set_status(rt: Runtime, account: Account, case_id: int, archive: bool) -> Case:
    _may_edit(account)
    before, after = (
        (CaseStatus.published, CaseStatus.archived) if archive else (CaseStatus.archived, CaseStatus.published)
    )
    async with events.change(rt) as tx:
        case = await _load(tx.db, case_id)
        if case.status is after:
            return case
        if case.status is not before:
            raise Conflict("Only a case in the library can be archived or restored; this one waits for review.")
        case.status = after
        case.updated_at = datetime.now(UTC)
        payload: catalogue.Payload = (
            catalogue.CaseArchived(case_id=case.id) if archive else catalogue.CaseRestored(case_id=case.id)
        )
        await tx.emit(Stream.case(case.id), payload, _by(account))
    return case


async def archive_case(rt: Runtime, account: Account, case_id: int) -> Case:
    """Out of the library's lists, still on record: sessions, notes and outcomes keep pointing at it."""
    return await _set_status(rt, account, case_id, archive=True)


async def restore_case(rt: Runtime, account: Account, case_id: int) -> Case:
    return await _set_status(rt, account, case_id, archive=False)


async def delete_case(rt: Runtime, account: Account, case_id: int) -> None:
    """Remove a case nobody points at. A case that notes, outcomes, sessions or derived cases
    refer to is refused (409) with the reason: archive it instead."""
    _may_edit(account)
    async with events.change(rt) as tx:
        case = await _load(tx.db, case_id)
        blockers = await _blockers(tx.db, case.id)
        if blockers:
            raise Conflict(
                "This case cannot be deleted: notes (%(notes)s), outcomes (%(outcomes)s), sessions (%(shares)s) "
                "and derived cases (%(derived)s) point at it. Archive it instead; it then leaves the library's "
                "lists and the record stays whole.",
                notes=blockers.get("notes", 0),
                outcomes=blockers.get("outcomes", 0),
                shares=blockers.get("shares", 0),
                derived=blockers.get("derived", 0),
            )
        title = case.title
        await tx.db.delete(case)
        if _is_sqlite(tx.db):
            await tx.db.execute(text("DELETE FROM case_search WHERE rowid = :id"), {"id": case_id})
        await tx.emit(Stream.case(case_id), catalogue.CaseDeleted(case_id=case_id, title=title), _by(account))


async def share_case(
    rt: Runtime,
    account: Account,
    session_id: int,
    case_id: int,
    presenter: str | None,
    activity_id: int | None = None,
) -> CaseShare:
    """Present a case in a session the account runs. Without activity_id it goes with the
    current activity. Notes can then be about this case."""
    name = validate.text(presenter, "presenter", N_("The presenter's name"), MAX_PRESENTER) or None
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        if session.status is SessionStatus.closed:
            raise Conflict("This session is closed; cases can be shared while it is planned or live.")
        case = await _load(tx.db, case_id)
        if case.status is not CaseStatus.published:
            raise Conflict("Only a published case can be shared; this one is archived or waiting for review.")
        if activity_id in (None, ""):
            activity_id = session.current_activity_id
        else:
            activity = await tx.db.get(Activity, validate.integer(activity_id, "activity_id"))
            if activity is None or activity.session_id != session_id:
                raise Invalid("That activity is not part of this session.", {"activity_id": "Unknown activity."})
            activity_id = activity.id
        twice = await tx.db.scalar(
            select(CaseShare.id).where(
                CaseShare.session_id == session_id,
                CaseShare.case_id == case.id,
                CaseShare.activity_id.is_(None) if activity_id is None else CaseShare.activity_id == activity_id,
            )
        )
        if twice:
            raise Conflict("This case is already shared in this activity.")
        share = CaseShare(case_id=case.id, session_id=session_id, activity_id=activity_id, presenter=name)
        tx.db.add(share)
        await tx.db.flush()
        await tx.emit(
            Stream.session(session_id),
            catalogue.CaseShared(
                id=share.id,
                case_id=case.id,
                session_id=session_id,
                activity_id=activity_id,
                presenter=name,
                case=case_state(case),
            ),
            _by(account),
        )
    return share


async def derive_case(
    rt: Runtime, account: Account, from_case_id: int, outcome_id: int, data: Mapping[str, Any]
) -> Case:
    """An adopted practice becomes a new case in the library, derived from the case it learned
    from, through the outcome that records the adoption. `data` holds the new case's fields (as
    for create_case); SDGs, topics, stage and organisation are inherited unless data gives them.
    Emits "case.derived" on the new case's stream."""
    async with events.change(rt) as tx:
        original = await _load(tx.db, from_case_id)
        outcome = await tx.db.get(Outcome, validate.integer(outcome_id, "outcome_id"))
        if outcome is None:
            raise NotFound("No such outcome.")
        inherited = {name: getattr(original, name) for name in ("sdgs", "topics", "organisation")}
        fields = check_fields({**inherited, **{k: v for k, v in data.items() if v not in (None, "", [])}})
        case = Case(
            **fields,
            status=CaseStatus.published,
            derived_from_id=original.id,
            from_outcome_id=outcome.id,
            created_by_id=account.id,
        )
        tx.db.add(case)
        await tx.db.flush()
        await _index(tx.db, case, new=True)
        await tx.emit(
            Stream.case(case.id),
            catalogue.CaseDerived(case=case_state(case), from_case_id=original.id, outcome_id=outcome.id),
            _by(account),
        )
    return case


# --- share a project: submissions and their review -----------------------------------------


def check_submitter(data: Mapping[str, Any]) -> dict[str, str]:
    name = validate.text(data.get("name"), "name", N_("Your name"), MAX_NAME, required=True)
    email = validate.text(data.get("email"), "email", N_("Your email address"), MAX_EMAIL, required=True)
    if not _EMAIL.match(email):
        raise Invalid("That is not an email address.", {"email": "An email address, e.g. name@example.org."})
    return {"name": name, "email": email}


async def submit_project(rt: Runtime, data: Mapping[str, Any], language: str = "en") -> CaseSubmission:
    """Anyone, without an account, sends a project; it waits in the review queue. The email is
    stored for the reviewers and never shown publicly."""
    fields, problems = field_problems(data)
    who: dict[str, str] = {}
    try:
        who = check_submitter(data)
    except Invalid as e:
        problems.append(e)
    _all(problems)
    async with events.change(rt) as tx:
        case = Case(**fields, status=CaseStatus.submitted)
        tx.db.add(case)
        await tx.db.flush()
        submission = CaseSubmission(case_id=case.id, language=language, **who)
        tx.db.add(submission)
        await tx.db.flush()
        await _index(tx.db, case, new=True)
        await tx.emit(
            Stream.case(case.id),
            catalogue.SubmissionReceived(submission_id=submission.id, case=case_state(case)),
            Actor(ActorKind.submitter, submission.id),
        )
    return submission


async def _pending(db: AsyncSession, submission_id: Any) -> tuple[CaseSubmission, Case]:
    submission = await db.get(CaseSubmission, validate.integer(submission_id, "submission_id"))
    if submission is None:
        raise NotFound("No such submission.")
    case = await _load(db, submission.case_id)
    if case.status is not CaseStatus.submitted:
        raise Conflict("This submission has been reviewed already.")
    return submission, case


async def accept_submission(
    rt: Runtime, account: Account, submission_id: int, data: Mapping[str, Any] | None = None
) -> Case:
    """Into the library, with the reviewer's edits (fields in `data`) if any."""
    _may_edit(account)
    async with events.change(rt) as tx:
        submission, case = await _pending(tx.db, submission_id)
        fields = _editable(data or {}, case)
        edited = [name for name, value in fields.items() if getattr(case, name) != value]
        for name in edited:
            setattr(case, name, fields[name])
        case.status = CaseStatus.published
        case.updated_at = submission.reviewed_at = datetime.now(UTC)
        submission.reviewed_by_id = account.id
        await tx.db.flush()
        await _index(tx.db, case)
        await tx.emit(
            Stream.case(case.id),
            catalogue.SubmissionAccepted(submission_id=submission.id, case=case_state(case), edited=edited),
            _by(account),
        )
    return case


async def reject_submission(rt: Runtime, account: Account, submission_id: int, reason: Any = "") -> CaseSubmission:
    """Kept out of the library; the case stays on record as rejected, with the reason."""
    _may_edit(account)
    why = validate.text(reason, "reason", N_("The reason"), MAX_TEXT)
    async with events.change(rt) as tx:
        submission, case = await _pending(tx.db, submission_id)
        case.status = CaseStatus.rejected
        case.updated_at = submission.reviewed_at = datetime.now(UTC)
        submission.reviewed_by_id = account.id
        submission.reason = why
        await tx.emit(
            Stream.case(case.id),
            catalogue.SubmissionRejected(submission_id=submission.id, case_id=case.id, reason=why),
            _by(account),
        )
    return submission


async def list_submissions(rt: Runtime, status: Any = "submitted", page: Any = 1) -> Page:
    """The review queue (status "submitted", oldest first) or the rejected ones (newest first)."""
    wanted = validate.choice(CaseStatus, status or "submitted", "status")
    if wanted not in (CaseStatus.submitted, CaseStatus.rejected):
        raise Invalid("The review queue holds submitted or rejected projects.", {"status": "submitted or rejected"})
    number, size = paging.numbers(page, PER_PAGE)
    order = CaseSubmission.id.asc() if wanted is CaseStatus.submitted else CaseSubmission.reviewed_at.desc()
    async with rt.db.read() as db:
        where = Case.status == wanted
        total = await db.scalar(select(func.count(CaseSubmission.id)).join(Case).where(where)) or 0
        rows = await db.execute(
            select(CaseSubmission, Case).join(Case).where(where).order_by(order).limit(size).offset((number - 1) * size)
        )
        return Page([tuple(row) for row in rows.all()], number, size, total)


async def get_submission(rt: Runtime, submission_id: Any) -> tuple[CaseSubmission, Case]:
    async with rt.db.read() as db:
        submission = await db.get(CaseSubmission, validate.integer(submission_id, "submission_id"))
        if submission is None:
            raise NotFound("No such submission.")
        return submission, await _load(db, submission.case_id)


async def pending_count(rt: Runtime) -> int:
    async with rt.db.read() as db:
        return await db.scalar(select(func.count(Case.id)).where(Case.status == CaseStatus.submitted)) or 0


# --- bulk: import and export (labs cases import / export) ------------------------------------


IMPORT_BATCH = 500


async def import_cases(
    rt: Runtime, rows: Sequence[Mapping[str, Any]], progress: Callable[[int], None] | None = None
) -> int:
    """Add checked cases (from check_fields, plus "status" published or archived) in ONE
    transaction: all of them or, on any failure, none. Written in batches (one insert of cases and
    one of their search rows per batch), each case with its case.created event."""
    async with events.change(rt) as tx:
        for start in range(0, len(rows), IMPORT_BATCH):
            batch = [Case(**fields) for fields in rows[start : start + IMPORT_BATCH]]
            tx.db.add_all(batch)
            await tx.db.flush()
            await _index(tx.db, *batch, new=True)
            for case in batch:
                created = catalogue.CaseCreated(case=case_state(case), source="import")
                await tx.emit(Stream.case(case.id), created, Actor(ActorKind.system))
            if progress:
                progress(len(batch))
    if not rt.db.is_sqlite:
        # Fresh planner statistics, so that searches use the full-text index at once.
        async with rt.db.write() as db:
            await db.execute(text('ANALYZE "case"'))
    return len(rows)


async def export_cases(rt: Runtime, batch: int = 500) -> AsyncIterator[Case]:
    """Every case in the library (published and archived), oldest first, read in batches."""
    after = 0
    while True:
        async with rt.db.read() as db:
            rows = list(
                (
                    await db.scalars(
                        select(Case).where(Case.status.in_(LIBRARY), Case.id > after).order_by(Case.id).limit(batch)
                    )
                ).all()
            )
        for case in rows:
            yield case
        if len(rows) < batch:
            return
        after = rows[-1].id
