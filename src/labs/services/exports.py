"""Exports for researchers: a zip of CSV files with a data dictionary, one JSON document, and the
REFI-QDA project (.qdpx). Each covers one scope (a session, a community, or everything the account
may see) and is read in batches, so 100,000 notes never sit in memory at once.

What a participant chose holds in every file alike (labs.consent): people who chose `none` are left
out with their notes and votes; `anonymous` rows carry no participant key; `pseudonymous` rows a
stable pseudonym; only `named` rows names and organisations. No file holds an email, a token, a
join code, a password hash or an IP address: every column is listed here, none is copied blindly.
CSV cells that a spreadsheet would run as a formula are neutralised. Every export is an event
(`export.made`: who, when, which scope and format) on the research stream."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, consent, events, paging, refi, validate
from labs.catalogue import Audience, Refs
from labs.consent import Disclosure, Person
from labs.errors import Invalid, NotFound
from labs.events import Actor, Stream
from labs.models import (
    Account,
    Activity,
    ActorKind,
    Case,
    CaseShare,
    Cluster,
    Code,
    Coding,
    Community,
    Event,
    FollowUp,
    LabSession,
    Memo,
    Note,
    Outcome,
    OutcomeSource,
    Participant,
    Vote,
    VoteRound,
)
from labs.runtime import Runtime
from labs.services import codebook, grants, moderation_log

FORMATS = {"csv": "zip", "json": "json", "qdpx": "qdpx"}
MEDIA_TYPES = {"csv": "application/zip", "json": "application/json", "qdpx": "application/zip"}
BATCH = 1000
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Progress = Callable[[int], None]


def _quiet(_rows: int) -> None:
    """No progress display (web exports)."""


# --- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportScope:
    label: str  # "session:3", "community:2" or "all"
    session_ids: tuple[int, ...]


async def resolve(db: AsyncSession, account: Any, value: Any) -> ExportScope:
    """`session:<id>`, `community:<id>` or `all` (everything the account may see; for the CLI,
    with no account, everything). Unknown or ungranted: 404; nothing in it: 400."""
    text = str(value or "").strip()
    kind, _, ident = text.partition(":")
    if not text or kind not in ("session", "community", "all") or (kind == "all") == bool(ident):
        raise Invalid(
            "Choose what to export: session:<id>, community:<id> or all.",
            {"scope": "Choose a session, a community or all."},
        )
    scope = grants.Scope(everything=True) if account is None else await grants.scope_of(db, account)
    if kind == "all":
        query = select(LabSession.id).where(scope.session_filter(LabSession.id))
    else:
        if not ident.isdigit():
            raise Invalid("%(ident)r is not an id.", {"scope": "Not an id."}, ident=ident)
        number = validate.integer(ident, "scope")
        if account is not None:
            await grants.check(db, account, **{f"{kind}_id": number})
        elif await db.get(LabSession if kind == "session" else Community, number) is None:
            raise NotFound(f"No such {kind}.")
        column = LabSession.id if kind == "session" else LabSession.community_id
        query = select(LabSession.id).where(column == number, scope.session_filter(LabSession.id))
    ids = tuple(sorted((await db.scalars(query)).all()))
    if not ids:
        raise Invalid(
            "There is nothing to export in %(scope)s: it holds no sessions.",
            {"scope": "This holds no sessions."},
            scope=text,
        )
    return ExportScope(label=text, session_ids=ids)


def fmt(value: Any) -> str:
    if value not in FORMATS:
        raise Invalid(
            "Unknown format %(value)r; allowed: csv, json, qdpx.", {"format": "Choose csv, json or qdpx."}, value=value
        )
    return str(value)


# --- what an export reads ------------------------------------------------------------------


@dataclass
class Context:
    """One export's view of the data: the consent rules, its sessions, and who is in them."""

    db: AsyncSession
    shown: Disclosure
    session_ids: tuple[int, ...]
    people: dict[int, Person | None] = field(default_factory=dict)  # participant id -> shown (None: left out)
    # Ids of the notes a researcher may read (ints only: small beside the notes themselves). A note
    # id not here is hidden, deleted, of someone who chose none, or gone with an erasure.
    readable: set[int] = field(default_factory=set)
    outcome_ids: set[int] = field(default_factory=set)
    case_ids: set[int] = field(default_factory=set)

    def in_scope(self, column: Any) -> ColumnElement[bool]:
        return column.in_(self.session_ids)

    def person(self, participant_id: Any) -> Person | None:
        # An id no longer in the table (erased) is nobody: the note stays, unlinked.
        return self.people.get(participant_id, consent.NOBODY) if participant_id is not None else consent.NOBODY

    def key(self, participant_id: Any) -> str | None:
        person = self.person(participant_id)
        return person.key if person else None


async def _context(db: AsyncSession, shown: Disclosure, session_ids: tuple[int, ...]) -> Context:
    ctx = Context(db=db, shown=shown, session_ids=session_ids)
    for participant in (await db.scalars(select(Participant).where(ctx.in_scope(Participant.session_id)))).all():
        ctx.people[participant.id] = shown.person(participant)
    readable = consent.notes().where(ctx.in_scope(Note.session_id)).with_only_columns(Note.id)
    ctx.readable = set((await db.scalars(readable)).all())
    ctx.outcome_ids = set((await db.scalars(select(Outcome.id).where(ctx.in_scope(Outcome.session_id)))).all())
    shared = select(CaseShare.case_id).where(ctx.in_scope(CaseShare.session_id))
    derived = select(Case.id).where(Case.from_outcome_id.in_(ctx.outcome_ids or {0}))
    ctx.case_ids = set((await db.scalars(select(Case.id).where(or_(Case.id.in_(shared), Case.id.in_(derived))))).all())
    db.expunge_all()
    return ctx


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _enum(value: Any) -> Any:
    return getattr(value, "value", value)


@dataclass(frozen=True)
class Table:
    """One file of an export: its columns (name, meaning), the query it reads in id order and how
    one result row becomes an output row (None: left out)."""

    name: str
    doc: str
    columns: tuple[tuple[str, str], ...]
    query: Callable[[Context], Select[Any]]
    key: Any  # the id column the query is read by, in batches
    row: Callable[[Context, Any], dict[str, Any] | None]


def _attrs(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: _iso(_enum(getattr(obj, name))) for name in names}


def _note_row(ctx: Context, r: Any) -> dict[str, Any] | None:
    note, participant = r
    person = ctx.shown.person(participant)
    if person is None:
        return None
    return {
        **_attrs(note, ("id", "session_id", "activity_id")),
        "participant": person.key,
        "consent": person.consent.value if person.consent else None,
        "author_name": person.name,
        "author_organisation": person.organisation,
        **_attrs(note, ("kind", "body", "case_id", "cluster_id", "pinned", "created_at", "updated_at")),
    }


def _participant_row(ctx: Context, p: Participant) -> dict[str, Any] | None:
    person = ctx.shown.person(p)
    if person is None or person.key is None:
        return None  # anonymous people appear only as counts, never as a row of their own
    return {
        "participant": person.key,
        "session_id": p.session_id,
        "consent": p.consent.value,
        "name": person.name,
        "organisation": person.organisation,
        "sector": person.sector,
        "city": person.city,
        "proxy": p.proxy,
        "joined_at": _iso(p.joined_at),
    }


def _vote_row(ctx: Context, v: Any) -> dict[str, Any] | None:
    vote, session_id = v
    person = ctx.person(vote.participant_id)
    if person is None or vote.note_id not in ctx.readable:
        return None
    return {
        "id": vote.id,
        "round_id": vote.round_id,
        "session_id": session_id,
        "note_id": vote.note_id,
        "participant": person.key,
        "created_at": _iso(vote.created_at),
    }


def _coding_row(ctx: Context, r: Any) -> dict[str, Any] | None:
    coding, body = r
    if coding.note_id not in ctx.readable:
        return None
    span = body[coding.start : coding.end] if coding.start is not None and coding.end is not None else body
    return {
        **_attrs(coding, ("id", "code_id", "note_id")),
        "coder": ctx.shown.account_pseudonym(coding.account_id) if coding.account_id else None,
        **_attrs(coding, ("start", "end")),
        "coded_text": span,
        "created_at": _iso(coding.created_at),
    }


# Fields of event data that name or describe people: research files refer to people by key only.
_PERSON_FIELDS = ("author", "display_name", "name", "organisation", "city", "sector", "presenter", "entered_by_id")


def _event_row(ctx: Context, e: Event) -> dict[str, Any] | None:
    seen = catalogue.view(events.wire(e), Audience.researcher, Refs())
    if seen["type"] == catalogue.REDACTED:
        return None  # a type researchers may not read at all
    data = dict(seen["data"])
    note_id = data.get("note_id", data.get("id") if e.type.startswith("note.") else None)
    if note_id is not None and note_id not in ctx.readable:
        if e.type not in moderation_log.ACTIONS:
            return None
        # The moderation log stays whole: a note that may not be read is named by its id alone.
        data = {"id": note_id, "activity_id": data.get("activity_id")}
    participant_id = data.pop("participant_id", None)
    if participant_id is not None:
        person = ctx.person(participant_id)
        if person is None:
            return None
        data["participant"] = person.key
    for name in _PERSON_FIELDS:
        data.pop(name, None)
    if isinstance(data.get("account_id"), int):
        data["account"] = ctx.shown.account_pseudonym(data.pop("account_id"))
    if isinstance(data.get("results"), list):
        data["results"] = [r for r in data["results"] if r.get("note_id") in ctx.readable]
    if isinstance(data.get("sources"), dict):
        ids = data["sources"].get("note_ids") or []
        data["sources"] = {**data["sources"], "note_ids": [i for i in ids if i in ctx.readable]}
    if e.actor_kind is ActorKind.participant:
        actor = ctx.person(e.actor_id)
        if actor is None:
            return None
        who = actor.key
    elif e.actor_kind is ActorKind.account and e.actor_id is not None:
        who = ctx.shown.account_pseudonym(e.actor_id)
    else:
        who = None
    return {
        "stream": e.stream,
        "stream_id": e.stream_id,
        "seq": e.seq,
        "type": e.type,
        "at": _iso(e.at),
        "actor_kind": e.actor_kind.value,
        "actor": who,
        "data": data,
    }


def _events_query(ctx: Context) -> Select[Any]:
    def stream(kind: str, ids: Iterable[int]) -> ColumnElement[bool]:
        return and_(Event.stream == kind, Event.stream_id.in_(list(ids) or [0]))

    return select(Event).where(
        or_(
            stream("session", ctx.session_ids),
            stream("research", ctx.session_ids),
            stream("outcome", ctx.outcome_ids),
            stream("case", ctx.case_ids),
        )
    )


def _plain(names: tuple[str, ...], docs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, docs[name]) for name in names)


_AT = "When (ISO 8601, UTC)."
TABLES: tuple[Table, ...] = (
    Table(
        "sessions",
        "The sessions in this export.",
        (
            ("id", "Session id."),
            ("title", "Title."),
            ("kind", "workshop, co_creation_lab, learning_community_meeting or other."),
            ("status", "draft, scheduled, live or closed."),
            ("community_id", "The community (learning community or living lab) it belongs to, if any."),
            ("city", "Where it took place."),
            ("language", "Its language."),
            ("description", "What it was about."),
            ("starts_at", "Planned start. " + _AT),
            ("started_at", "When it went live. " + _AT),
            ("closed_at", "When it was closed. " + _AT),
        ),
        lambda ctx: select(LabSession).where(ctx.in_scope(LabSession.id)),
        LabSession.id,
        lambda ctx, s: _attrs(s, [c for c, _ in TABLES[0].columns]),
    ),
    Table(
        "activities",
        "The agenda items of the sessions.",
        (
            ("id", "Activity id."),
            ("session_id", "Its session."),
            ("position", "Place on the agenda, from 0."),
            ("title", "Title."),
            ("prompt", "The question or task put to participants."),
            ("type", "brainstorm, discussion, case_presentation, voting or reflection."),
            ("minutes", "Planned length."),
            ("opened_at", "When it was opened. " + _AT),
            ("closed_at", "When it was closed. " + _AT),
        ),
        lambda ctx: select(Activity).where(ctx.in_scope(Activity.session_id)),
        Activity.id,
        lambda ctx, a: _attrs(a, [c for c, _ in TABLES[1].columns]),
    ),
    Table(
        "participants",
        "People who chose pseudonymous or named use (anonymous people appear only in counts; people "
        "who chose none not at all). One row per person per session.",
        (
            ("participant", "Pseudonym: the same for one member in every session of their community."),
            ("session_id", "The session."),
            ("consent", "pseudonymous or named."),
            ("name", "Display name (named only)."),
            ("organisation", "Organisation (named only)."),
            ("sector", "citizen, government, business, knowledge_institution or civil_society, if given."),
            ("city", "City, if given."),
            ("proxy", "true when a facilitator entered this person (no device)."),
            ("joined_at", _AT),
        ),
        lambda ctx: select(Participant).where(ctx.in_scope(Participant.session_id)),
        Participant.id,
        _participant_row,
    ),
    Table(
        "notes",
        "What participants contributed; not hidden, deleted or from people who chose none.",
        (
            ("id", "Note id."),
            ("session_id", "Its session."),
            ("activity_id", "The activity it was written in."),
            ("participant", "The author's pseudonym; empty for anonymous notes and notes without a participant."),
            ("consent", "The author's choice: anonymous, pseudonymous or named; empty without a participant."),
            ("author_name", "Display name (named only)."),
            ("author_organisation", "Organisation (named only)."),
            ("kind", "idea, insight, question, booster, barrier or action."),
            ("body", "The text."),
            ("case_id", "The case it is about, if any."),
            ("cluster_id", "Its cluster, if any."),
            ("pinned", "true when a facilitator pinned it."),
            ("created_at", _AT),
            ("updated_at", "Last edit. " + _AT),
        ),
        lambda ctx: consent.notes().where(ctx.in_scope(Note.session_id)),
        Note.id,
        _note_row,
    ),
    Table(
        "clusters",
        "Groups of notes made by facilitators.",
        (("id", "Cluster id."), ("session_id", "Its session."), ("activity_id", "Its activity."), ("name", "Name.")),
        lambda ctx: select(Cluster).where(ctx.in_scope(Cluster.session_id)),
        Cluster.id,
        lambda ctx, c: _attrs(c, ("id", "session_id", "activity_id", "name")),
    ),
    Table(
        "vote_rounds",
        "Dot-voting rounds.",
        (
            ("id", "Round id."),
            ("session_id", "Its session."),
            ("activity_id", "Its activity."),
            ("title", "Title."),
            ("votes_per_participant", "Votes each participant had."),
            ("status", "open, closed or revealed."),
            ("opened_at", _AT),
            ("closed_at", _AT),
            ("revealed_at", _AT),
        ),
        lambda ctx: select(VoteRound).where(ctx.in_scope(VoteRound.session_id)),
        VoteRound.id,
        lambda ctx, r: _attrs(r, [c for c, _ in TABLES[5].columns]),
    ),
    Table(
        "votes",
        "One row per vote, on notes in this export, by people who did not choose none.",
        (
            ("id", "Vote id."),
            ("round_id", "Its round."),
            ("session_id", "Its session."),
            ("note_id", "The note voted for."),
            ("participant", "The voter's pseudonym; empty for anonymous voters."),
            ("created_at", _AT),
        ),
        lambda ctx: (
            select(Vote, VoteRound.session_id)
            .join(VoteRound, VoteRound.id == Vote.round_id)
            .where(ctx.in_scope(VoteRound.session_id))
        ),
        Vote.id,
        _vote_row,
    ),
    Table(
        "cases",
        "Urban projects shared in these sessions, or derived from their outcomes.",
        (
            ("id", "Case id."),
            ("title", "Title."),
            ("summary", "Summary."),
            ("city", "City of the project."),
            ("country", "ISO 3166-1 alpha-2."),
            ("sdgs", "Sustainable Development Goals (1-17), separated by ;."),
            ("topics", "Topics, separated by ;."),
            ("stage", "idea, pilot, implemented, scaled or ended."),
            ("boosters", "What helped."),
            ("barriers", "What stood in the way."),
            ("organisation", "The organisation behind the project."),
            ("links", "Web links about the project, separated by ;."),
            ("status", "published or archived (kept on record, out of the library's lists)."),
            ("derived_from_id", "The case this one learned from (an adopted practice)."),
            ("from_outcome_id", "The outcome that records the adoption."),
            ("created_at", _AT),
        ),
        lambda ctx: select(Case).where(Case.id.in_(ctx.case_ids or {0})),
        Case.id,
        lambda ctx, c: _attrs(c, [name for name, _ in TABLES[7].columns]),
    ),
    Table(
        "case_shares",
        "Which case was presented in which session (the presenter's name is not exported).",
        (
            ("id", "Share id."),
            ("case_id", "The case."),
            ("session_id", "The session."),
            ("activity_id", "The activity it was presented in."),
            ("shared_at", _AT),
        ),
        lambda ctx: select(CaseShare).where(ctx.in_scope(CaseShare.session_id)),
        CaseShare.id,
        lambda ctx, s: _attrs(s, ("id", "case_id", "session_id", "activity_id", "shared_at")),
    ),
    Table(
        "outcomes",
        "What the sessions led to, recorded the outcome-harvesting way.",
        (
            ("id", "Outcome id."),
            ("session_id", "The session."),
            ("community_id", "The community."),
            ("kind", "commitment, new_practice, adapted_practice, policy_change, collaboration or knowledge_product."),
            ("title", "Title."),
            ("what_changed", "What changed."),
            ("who", "The social actor that changed (an organisation or group)."),
            ("when_on", "When (date)."),
            ("where", "Where (city)."),
            ("significance", "Why it matters."),
            ("contribution", "How the session contributed."),
            ("evidence", "The evidence."),
            ("created_at", _AT),
        ),
        lambda ctx: select(Outcome).where(Outcome.id.in_(ctx.outcome_ids or {0})),
        Outcome.id,
        lambda ctx, o: _attrs(o, [name for name, _ in TABLES[9].columns]),
    ),
    Table(
        "outcome_sources",
        "The notes, clusters and cases an outcome came from.",
        (
            ("id", "Row id."),
            ("outcome_id", "The outcome."),
            ("note_id", "A note it came from."),
            ("cluster_id", "A cluster it came from."),
            ("case_id", "A case it came from."),
        ),
        lambda ctx: select(OutcomeSource).where(OutcomeSource.outcome_id.in_(ctx.outcome_ids or {0})),
        OutcomeSource.id,
        lambda ctx, s: (
            None
            if s.note_id is not None and s.note_id not in ctx.readable
            else _attrs(s, ("id", "outcome_id", "note_id", "cluster_id", "case_id"))
        ),
    ),
    Table(
        "follow_ups",
        "Later checks on the outcomes.",
        (
            ("id", "Follow-up id."),
            ("outcome_id", "The outcome."),
            ("due_on", "Due (date)."),
            ("status", "planned, answered or cancelled."),
            ("findings", "What was done, in the owner's latest answer."),
            ("done_at", _AT),
            ("created_at", _AT),
        ),
        lambda ctx: select(FollowUp).where(FollowUp.outcome_id.in_(ctx.outcome_ids or {0})),
        FollowUp.id,
        lambda ctx, f: _attrs(f, ("id", "outcome_id", "due_on", "status", "findings", "done_at", "created_at")),
    ),
    Table(
        "codes",
        "The codebook.",
        (
            ("id", "Code id."),
            ("parent_id", "The parent code, if any."),
            ("name", "Name."),
            ("description", "What the code means."),
            ("color", "Colour (#rrggbb)."),
        ),
        lambda ctx: select(Code),
        Code.id,
        lambda ctx, c: _attrs(c, ("id", "parent_id", "name", "description", "color")),
    ),
    Table(
        "codings",
        "Codes applied to notes of this export: a whole note (no start/end) or a span of its text.",
        (
            ("id", "Coding id."),
            ("code_id", "The code."),
            ("note_id", "The note."),
            ("coder", "The researcher's pseudonym (R-...)."),
            ("start", "First character of the span (0-based, in characters), empty for the whole note."),
            ("end", "One past the last character of the span."),
            ("coded_text", "The coded text."),
            ("created_at", _AT),
        ),
        lambda ctx: (
            select(Coding, Note.body).join(Note, Note.id == Coding.note_id).where(ctx.in_scope(Note.session_id))
        ),
        Coding.id,
        _coding_row,
    ),
    Table(
        "events",
        "Every change, in order per stream (session, research, outcome, case), as researchers may read "
        "it: people by key only, events of people who chose none and of unreadable notes left out "
        "(but for the moderation log: hiding, restoring, pinning, unpinning or approving such a note "
        "is kept with the note's id and activity only).",
        (
            ("stream", "session, research, outcome or case."),
            ("stream_id", "The session, outcome or case id."),
            ("seq", "Number in its stream, from 1."),
            ("type", "Event type (see docs/api.md)."),
            ("at", _AT),
            ("actor_kind", "participant, account or system."),
            ("actor", "Who: a participant's pseudonym, or a staff account's (R-...)."),
            ("data", "What changed (JSON)."),
        ),
        _events_query,
        Event.id,
        _event_row,
    ),
)


async def rows(ctx: Context, table: Table, progress: Progress) -> AsyncIterator[dict[str, Any]]:
    """The table's rows, read BATCH at a time by id."""
    last = 0
    while True:
        batch = (await ctx.db.execute(table.query(ctx).where(table.key > last).order_by(table.key).limit(BATCH))).all()
        if not batch:
            return
        for result in batch:
            item = result[0] if len(result) == 1 else tuple(result)
            out = table.row(ctx, item)
            if out is not None:
                yield out
        first = batch[-1][0]
        last = first.id
        progress(len(batch))
        ctx.db.expunge_all()


async def count(ctx: Context) -> int:
    """Rows all tables will read: the length of a progress bar."""
    total = 0
    for table in TABLES:
        total += int(await ctx.db.scalar(select(func.count()).select_from(table.query(ctx).subquery())) or 0)
    return total


# --- writers -------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """One CSV cell: lists joined by ;, text that a spreadsheet would run as a formula prefixed
    with an apostrophe (it then shows as text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


CONSENT_RULES = (
    "Consent rules (the same in every file): people who chose `none` are left out with their notes "
    "and votes; `anonymous` rows carry no participant key; `pseudonymous` rows carry a stable "
    "pseudonym (P-...), the same for one member in every session of their community; only `named` "
    "rows carry names and organisations. Hidden and deleted notes are left out. No file holds an "
    "email, a token, a join code, a password hash or an IP address. Staff accounts appear as R-... ."
)


def _dictionary() -> list[dict[str, str]]:
    return [
        {"file": f"{t.name}.csv", "column": name, "meaning": meaning} for t in TABLES for name, meaning in t.columns
    ]


async def write_csv(ctx: Context, out: IO[bytes], scope: ExportScope, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("README.txt", "w") as raw:
            raw.write(f"labs export of {scope.label}, {datetime.now(UTC).isoformat()}\n\n{CONSENT_RULES}\n".encode())
        with zf.open("data_dictionary.csv", "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["file", "column", "meaning"])
            writer.writeheader()
            writer.writerows(_dictionary())
        for table in TABLES:
            names = [name for name, _ in table.columns]
            with zf.open(f"{table.name}.csv", "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as fh:
                plain = csv.writer(fh)
                plain.writerow(names)
                n = 0
                async for row in rows(ctx, table, progress):
                    plain.writerow([cell(row.get(name)) for name in names])
                    n += 1
                counts[table.name] = n
    return counts


async def write_json(ctx: Context, out: IO[bytes], scope: ExportScope, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    head = {
        "format": "labs-export",
        "version": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "scope": scope.label,
        "consent_rules": CONSENT_RULES,
        "data_dictionary": {t.name: {"doc": t.doc, "columns": dict(t.columns)} for t in TABLES},
    }
    out.write(json.dumps(head, ensure_ascii=False)[:-1].encode())
    for table in TABLES:
        out.write(f', "{table.name}": ['.encode())
        n = 0
        async for row in rows(ctx, table, progress):
            out.write(((", " if n else "") + json.dumps(row, ensure_ascii=False)).encode())
            n += 1
        out.write(b"]")
        counts[table.name] = n
    out.write(b"}\n")
    return counts


async def write_qdpx(
    ctx: Context, out: IO[bytes], scope: ExportScope, progress: Progress, account_id: int | None
) -> dict[str, int]:
    """The REFI-QDA project: notes as text sources (Sources/<guid>.txt) with their session,
    activity, case, kind and participant as variables; the codebook; codings (whole notes and
    spans); the exporting researcher's memos as notes; sessions as sets; researchers as users
    under pseudonyms."""
    shown, db = ctx.shown, ctx.db
    notes_table = next(t for t in TABLES if t.name == "notes")
    codes = list((await db.scalars(select(Code))).all())
    memos = list((await db.scalars(select(Memo).where(Memo.account_id == (account_id or 0)))).all())
    memo_guids = {m.id: shown.guid("memo", m.id) for m in memos}
    by_code: dict[int, list[str]] = {}
    by_note: dict[int, list[str]] = {}
    by_session: dict[int, list[str]] = {}
    for m in memos:
        if m.code_id is not None:
            by_code.setdefault(m.code_id, []).append(memo_guids[m.id])
        elif m.note_id is not None and m.note_id in ctx.readable:
            by_note.setdefault(m.note_id, []).append(memo_guids[m.id])
        elif m.session_id is not None and m.session_id in ctx.session_ids:
            by_session.setdefault(m.session_id, []).append(memo_guids[m.id])
    coders: set[int] = {
        coder
        for coder in (
            await db.scalars(
                select(Coding.account_id)
                .join(Note, Note.id == Coding.note_id)
                .where(ctx.in_scope(Note.session_id), Coding.account_id.is_not(None))
                .distinct()
            )
        ).all()
        if coder is not None
    }
    if account_id is not None:
        coders.add(account_id)
    sessions = {s.id: s for s in (await db.scalars(select(LabSession).where(ctx.in_scope(LabSession.id)))).all()}
    activity_rows = await db.execute(select(Activity.id, Activity.title).where(ctx.in_scope(Activity.session_id)))
    activities: dict[int | None, str] = {row.id: row.title for row in activity_rows}
    case_rows = await db.execute(select(Case.id, Case.title).where(Case.id.in_(ctx.case_ids or {0})))
    cases: dict[int | None, str] = {row.id: row.title for row in case_rows}
    variables = [
        ("Session", "The session the note was written in."),
        ("Activity", "The agenda item."),
        ("Case", "The case the note is about."),
        ("Kind", "idea, insight, question, booster, barrier or action."),
        ("Participant", "The author's pseudonym (named: their name); absent for anonymous notes."),
    ]
    var_guid = {name: shown.guid("variable", name) for name, _ in variables}
    user = shown.guid("account", account_id) if account_id else None
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    counts = {"sources": 0, "codings": 0, "memos": len(memos), "codes": len(codes)}

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # The texts first (a zip is written one member at a time), then project.qde that points at them.
        async for row in rows(ctx, notes_table, progress):
            zf.writestr(f"Sources/{shown.guid('note', row['id'])}.txt", row["body"])
        with zf.open("project.qde", "w") as raw:
            w = refi.Writer(raw)
            w.start(
                "Project",
                xmlns=refi.PROJECT_NS,
                name=f"labs {scope.label}",
                origin="labs",
                creatingUserGUID=user,
                creationDateTime=now,
            )
            if coders:
                w.start("Users")
                for coder in sorted(coders):
                    w.empty("User", guid=shown.guid("account", coder), name=shown.account_pseudonym(coder))
                w.end("Users")
            if codes:
                w.start("CodeBook")
                w.codes(codebook.nodes(codes, lambda cid: shown.guid("code", cid), by_code))
                w.end("CodeBook")
            w.start("Variables")
            for name, doc in variables:
                w.start("Variable", guid=var_guid[name], name=name, typeOfVariable="Text")
                w.text("Description", doc)
                w.end("Variable")
            w.end("Variables")
            w.start("Sources")
            wrote_source = False
            async for r in _note_batches(ctx, notes_table):
                note, person, codings = r
                wrote_source = True
                counts["sources"] += 1
                guid = shown.guid("note", note.id)
                w.start(
                    "TextSource",
                    guid=guid,
                    name=f"Note {note.id}",
                    plainTextPath=f"internal://{guid}.txt",
                    creationDateTime=_xml_time(note.created_at),
                )
                # Spans are selections holding their coding; whole-note codings sit on the source.
                for coding in codings:
                    counts["codings"] += 1
                    if coding.start is not None:
                        w.start(
                            "PlainTextSelection",
                            guid=shown.guid("selection", coding.id),
                            startPosition=coding.start,
                            endPosition=coding.end,
                            creatingUser=_coder(shown, coding),
                            creationDateTime=_xml_time(coding.created_at),
                        )
                        _coding(w, shown, coding)
                        w.end("PlainTextSelection")
                for coding in codings:
                    if coding.start is None:
                        _coding(w, shown, coding)
                for ref in by_note.get(note.id, []):
                    w.empty("NoteRef", targetGUID=ref)
                values = {
                    "Session": sessions[note.session_id].title,
                    "Activity": activities.get(note.activity_id),
                    "Case": cases.get(note.case_id),
                    "Kind": note.kind.value,
                    "Participant": person.name or person.key,
                }
                for name, value in values.items():
                    if value:
                        w.start("VariableValue")
                        w.empty("VariableRef", targetGUID=var_guid[name])
                        w.text("TextValue", value)
                        w.end("VariableValue")
                w.end("TextSource")
            if not wrote_source:
                # The schema wants at least one source in <Sources>: a scope without readable
                # notes still gets a valid project (its codebook and memos), with an empty text.
                empty = shown.guid("empty", scope.label)
                w.start("TextSource", guid=empty, name="(no notes)")
                w.text("PlainTextContent", "")
                w.end("TextSource")
            w.end("Sources")
            if memos:
                w.start("Notes")
                for m in memos:
                    w.start(
                        "Note",
                        guid=memo_guids[m.id],
                        name=m.title,
                        creatingUser=user,
                        creationDateTime=_xml_time(m.created_at),
                        modifiedDateTime=_xml_time(m.updated_at),
                    )
                    w.text("PlainTextContent", m.body)
                    w.end("Note")
                w.end("Notes")
            w.start("Sets")
            for sid, session in sessions.items():
                w.start("Set", guid=shown.guid("session", sid), name=session.title)
                w.text("Description", f"The notes of session {sid}" + (f", {session.city}" if session.city else ""))
                async for source_guid in _session_sources(ctx, sid):
                    w.empty("MemberSource", targetGUID=source_guid)
                for ref in by_session.get(sid, []):
                    w.empty("MemberNote", targetGUID=ref)
                w.end("Set")
            w.end("Sets")
            w.end("Project")
            w.close()
    return counts


def _coder(shown: Disclosure, coding: Coding) -> str | None:
    return shown.guid("account", coding.account_id) if coding.account_id else None


def _coding(w: refi.Writer, shown: Disclosure, coding: Coding) -> None:
    w.start(
        "Coding",
        guid=shown.guid("coding", coding.id),
        creatingUser=_coder(shown, coding),
        creationDateTime=_xml_time(coding.created_at),
    )
    w.empty("CodeRef", targetGUID=shown.guid("code", coding.code_id))
    w.end("Coding")


def _xml_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None


async def _note_batches(ctx: Context, table: Table) -> AsyncIterator[tuple[Note, Person, list[Coding]]]:
    """Readable notes in id order, each with its codings, a batch of notes at a time."""
    last = 0
    while True:
        batch = (await ctx.db.execute(table.query(ctx).where(Note.id > last).order_by(Note.id).limit(BATCH))).all()
        if not batch:
            return
        ids = [note.id for note, _ in batch]
        codings: dict[int, list[Coding]] = {}
        for coding in (await ctx.db.scalars(select(Coding).where(Coding.note_id.in_(ids)).order_by(Coding.id))).all():
            codings.setdefault(coding.note_id, []).append(coding)
        for note, participant in batch:
            person = ctx.shown.person(participant)
            if person is None:
                continue
            body_length = len(note.body)
            # A span the note's later edit cut short is left out rather than pointing past the text.
            kept = [c for c in codings.get(note.id, []) if c.end is None or c.end <= body_length]
            yield note, person, kept
        last = ids[-1]
        ctx.db.expunge_all()


async def _session_sources(ctx: Context, session_id: int) -> AsyncIterator[str]:
    last = 0
    readable = consent.notes().where(Note.session_id == session_id).with_only_columns(Note.id)
    while True:
        ids = (await ctx.db.scalars(readable.where(Note.id > last).order_by(Note.id).limit(BATCH * 10))).all()
        if not ids:
            return
        for note_id in ids:
            yield ctx.shown.guid("note", note_id)
        last = ids[-1]


# --- the export as a whole -----------------------------------------------------------------


async def export(
    rt: Runtime,
    account: Any,
    scope_value: Any,
    format_value: Any,
    out: IO[bytes],
    *,
    via: str = "web",
    progress: Progress = _quiet,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write one export onto `out` and log it. A bad scope or format raises before anything is
    written. `account` None is the command line (everything, logged as the system)."""
    format_ = fmt(format_value)
    shown = consent.for_research(rt.settings)
    async with rt.db.read() as db:
        scope = await resolve(db, account, scope_value)
        ctx = await _context(db, shown, scope.session_ids)
        if on_total is not None:
            on_total(await count(ctx))
        if format_ == "csv":
            counts = await write_csv(ctx, out, scope, progress)
        elif format_ == "json":
            counts = await write_json(ctx, out, scope, progress)
        else:
            counts = await write_qdpx(ctx, out, scope, progress, account.id if account else None)
    await log(rt, account, scope, format_, via, counts)
    return counts


async def log(rt: Runtime, account: Any, scope: ExportScope, format_: str, via: str, counts: dict[str, int]) -> None:
    actor = Actor.account(account.id) if account is not None else Actor(ActorKind.system)
    async with events.change(rt) as tx:
        await tx.emit(
            Stream.research(),
            catalogue.ExportMade(
                format=format_, scope=scope.label, session_ids=list(scope.session_ids), via=via, counts=counts
            ),
            actor,
        )


async def codebook_file(rt: Runtime, account: Any, out: IO[bytes], via: str = "web") -> int:
    """The codebook as a REFI-QDA .qdc, logged like every export."""
    n = await codebook.write_qdc(rt, out)
    await log(rt, account, ExportScope(label="codebook", session_ids=()), "qdc", via, {"codes": n})
    return n


async def recent(rt: Runtime, page: Any) -> Any:
    """The export log, newest first: (event, account name)."""
    query = (
        select(Event, Account.display_name)
        .outerjoin(Account, and_(Account.id == Event.actor_id, Event.actor_kind == ActorKind.account))
        .where(Event.stream == "research", Event.stream_id == 0, Event.type == "export.made")
        .order_by(Event.id.desc())
    )
    async with rt.db.read() as db:
        return await paging.fetch(db, query, page)


async def choices(rt: Runtime, account: Account) -> tuple[list[LabSession], list[Community]]:
    """The sessions and communities the account may export, for the export form."""
    async with rt.db.read() as db:
        scope = await grants.scope_of(db, account)
        found = await db.scalars(
            select(LabSession)
            .where(scope.session_filter(LabSession.id))
            .order_by(LabSession.starts_at.desc().nulls_last(), LabSession.id.desc())
        )
        sessions = list(found.all())
        community_ids = {s.community_id for s in sessions if s.community_id is not None}
        communities = await db.scalars(
            select(Community).where(Community.id.in_(community_ids or {0})).order_by(Community.name)
        )
        return sessions, list(communities.all())
