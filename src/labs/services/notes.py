"""Notes on the wall: post (idempotent by client id), edit, delete, and the facilitator's
moderation (hide, restore, pin; approve or reject under pre-moderation), clustering and proxy entry.

Pre-moderation (a session setting): a participant's new note waits (`pending`) until a
facilitator approves it; until then only its author and the console see it. Notes a facilitator
enters (their own or by proxy) need no approval. An author's edit of an approved note sends it
back to the queue (it leaves the wall until approved again), so an approved note cannot be turned
into something else. Turning pre-moderation off approves nothing: waiting notes stay in the queue."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Conflict, Forbidden, Invalid, LabsError, NotFound, RateLimited
from labs.events import Actor, Stream
from labs.groupcommit import GroupCommit
from labs.models import (
    Account,
    CaseShare,
    Cluster,
    LabSession,
    Note,
    NoteApproval,
    NoteKind,
    Participant,
    SessionStatus,
)
from labs.runtime import Runtime
from labs.services.sessions import load_for

MAX_BODY = 2000
MAX_CLIENT_ID = 64


def note_state(note: Note) -> dict[str, Any]:
    """The full state of a note, its author by id: every note event carries it, so views render
    without a query (catalogue.NoteState)."""
    return {
        "id": note.id,
        "client_id": note.client_id,
        "body": note.body,
        "kind": note.kind.value,
        "activity_id": note.activity_id,
        "participant_id": note.participant_id,
        "entered_by_id": note.entered_by_id,
        "case_id": note.case_id,
        "cluster_id": note.cluster_id,
        "hidden": note.hidden,
        "pinned": note.pinned,
        "deleted": note.deleted,
        "approval": note.approval.value,
        "created_at": note.created_at.isoformat(),
    }


def note_data(note: Note, author: str | None) -> dict[str, Any]:
    """A note as the API answers it: with its author's display name."""
    state = note_state(note)
    del state["entered_by_id"]
    return {**state, "author": author}


def _body(value: Any) -> str:
    # Line ends as a browser shows them (\n): coded spans count characters in the text researchers
    # select, and a form posts \r\n where a script posts \n.
    body = str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise Invalid("A note needs some text.", {"body": "Write something first."})
    if len(body) > MAX_BODY:
        raise Invalid("A note is at most %(n)s characters.", {"body": "At most %(n)s characters."}, n=MAX_BODY)
    return body


def _client_id(value: Any) -> str:
    client_id = str(value or "").strip()
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        raise Invalid(
            "client_id must be 1 to 64 characters (a UUID made when the note is typed).",
            {"client_id": "Missing or too long."},
        )
    return client_id


async def _author(db: AsyncSession, note: Note) -> str | None:
    if note.participant_id is None:
        if note.entered_by_id is None:
            return None
        account = await db.get(Account, note.entered_by_id)
        return account.display_name if account else None
    participant = await db.get(Participant, note.participant_id)
    return participant.display_name if participant else None


async def _existing(rt: Runtime, session_id: int, client_id: str) -> tuple[Note, dict[str, Any]] | None:
    async with rt.db.read() as db:
        note = await db.scalar(select(Note).where(Note.session_id == session_id, Note.client_id == client_id))
        return (note, note_data(note, await _author(db, note))) if note else None


@dataclass(frozen=True)
class _Post:
    """One note post, checked as far as it can be without the database."""

    session_id: int
    client_id: str
    body: str
    kind: NoteKind
    data: dict[str, Any]  # what else it asked for: activity_id, case_id, participant_id (proxy)
    participant: Participant | None
    account: Account | None


Answer = tuple[dict[str, Any], int | None]


async def post(
    rt: Runtime,
    session_id: int,
    data: dict[str, Any],
    *,
    participant: Participant | None = None,
    account: Account | None = None,
) -> Answer:
    """Post a note as a participant, or as a facilitator (for themself or, with participant_id,
    for a proxy participant). Returns (note data, seq); seq is None when the client_id was seen
    before: the first note is returned and nothing new is written.

    Posts that arrive while a commit is in flight are written together in the next transaction
    (labs.groupcommit): one commit per group, each post answered once the commit that holds it
    has succeeded, and a post that fails (bad input, a closed session) fails alone."""
    client_id = _client_id(data.get("client_id"))
    body = _body(data.get("body"))
    kind = validate.choice(NoteKind, data.get("kind") or "idea", "kind")
    try:
        if participant is not None and not await rt.limits.notes.take(f"p{participant.id}"):
            raise RateLimited("You are posting very fast. Wait a few seconds.")
        return await _writer(rt).submit(_Post(session_id, client_id, body, kind, data, participant, account))
    except (IntegrityError, RateLimited, Conflict):
        # A resend of a note that was stored (its answer got lost) is answered with the first note,
        # even once posting is closed or limited. Resends are rare: only then is this looked up.
        if (found := await _existing(rt, session_id, client_id)) is not None:
            return found[1], None
        raise


# On the table, not the ORM class: a Core insert skips the ORM's bulk-insert machinery.
_NOTES = cast(Table, Note.__table__)
_INSERT_NOTES = insert(_NOTES).returning(_NOTES.c.id, sort_by_parameter_order=True)


def _writer(rt: Runtime) -> GroupCommit[_Post, Answer]:
    writer = rt.groups.get("notes")
    if writer is None:

        async def commit(posts: list[_Post]) -> list[Answer | BaseException]:
            return await _commit(rt, posts)

        writer = rt.groups["notes"] = GroupCommit(commit)
    return writer


async def _commit(rt: Runtime, posts: list[_Post]) -> list[Answer | BaseException]:
    """Write a group of posts in one transaction: each note and its event row through the same
    change, with one read of the sessions and of the client ids seen before, and one insert."""
    answers: list[Answer | BaseException | None] = [None] * len(posts)
    first_of: dict[tuple[int, str], int] = {}  # a client id twice in the group: the first wins
    written: list[tuple[int, dict[str, Any]]] = []
    async with events.change(rt) as tx:
        db = tx.db
        ids = {p.session_id for p in posts}
        live = {s.id: s for s in (await db.scalars(select(LabSession).where(LabSession.id.in_(ids)))).all()}
        stored: dict[tuple[int, str], Note] = {}
        for sid in ids:
            wanted = [p.client_id for p in posts if p.session_id == sid]
            found = await db.scalars(select(Note).where(Note.session_id == sid, Note.client_id.in_(wanted)))
            stored.update({(sid, n.client_id): n for n in found.all()})
        rows: list[dict[str, Any]] = []
        for i, p in enumerate(posts):
            key = (p.session_id, p.client_id)
            try:
                # Access first: a client id must not hand out someone else's note.
                session = await load_for(db, p.session_id, p.account) if p.account else live.get(p.session_id)
                if session is None:
                    raise NotFound("No such session.")
                if key in stored:
                    answers[i] = (note_data(stored[key], await _author(db, stored[key])), None)
                elif key not in first_of:
                    rows.append(await _row(db, p, session))
                    first_of[key] = i
                    written.append((i, rows[-1]))
            except LabsError as error:
                answers[i] = error
        if rows:
            for sid in ids:
                if count := sum(1 for row in rows if row["session_id"] == sid):
                    await tx.reserve(Stream.session(sid), count)
            new_ids = (await db.execute(_INSERT_NOTES, rows)).scalars()
            for (i, row), note_id in zip(written, new_ids.all(), strict=True):
                state = _state({**row, "id": note_id})
                p = posts[i]
                actor = Actor.participant(p.participant.id) if p.participant else Actor.account(p.account.id)  # type: ignore[union-attr]
                posted = catalogue.NoteAdded if row["approval"] is NoteApproval.approved else catalogue.NoteSubmitted
                event = await tx.emit(Stream.session(p.session_id), posted(**state), actor)
                answers[i] = ({**_api(state), "author": await _author_of(db, p, row)}, event.seq)
    for i, p in enumerate(posts):
        if answers[i] is None:  # the same client id earlier in this group: that note
            first = answers[first_of[(p.session_id, p.client_id)]]
            answers[i] = (first[0], None) if isinstance(first, tuple) else first
    return [a for a in answers if a is not None]


async def _row(db: AsyncSession, p: _Post, session: LabSession) -> dict[str, Any]:
    """The note row a post asks for, after the checks that need the database."""
    if session.status is not SessionStatus.live:
        raise Conflict("Notes can be posted while the session is live.")
    now = datetime.now(UTC)
    return {
        "session_id": p.session_id,
        "activity_id": await _activity_id(db, session, p.data.get("activity_id")),
        "participant_id": p.participant.id
        if p.participant
        else await _proxy_id(db, p.session_id, p.data.get("participant_id")),
        "entered_by_id": p.account.id if p.account else None,
        "client_id": p.client_id,
        "body": p.body,
        "kind": p.kind,
        "case_id": await _case_id(db, p.session_id, p.data.get("case_id")),
        "cluster_id": None,
        "hidden": False,
        "pinned": False,
        "deleted": False,
        # Under pre-moderation a participant's note waits; what a facilitator enters does not.
        "approval": NoteApproval.pending if session.premoderation and p.participant else NoteApproval.approved,
        "created_at": now,
        "updated_at": now,
    }


def _state(row: dict[str, Any]) -> dict[str, Any]:
    """note_state of a row written with a Core insert (no ORM object to read it from)."""
    return {
        **{k: row[k] for k in ("id", "client_id", "body", "activity_id", "participant_id", "entered_by_id")},
        **{k: row[k] for k in ("case_id", "cluster_id", "hidden", "pinned", "deleted")},
        "kind": row["kind"].value,
        "approval": row["approval"].value,
        "created_at": row["created_at"].isoformat(),
    }


def _api(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "entered_by_id"}


async def _author_of(db: AsyncSession, p: _Post, row: dict[str, Any]) -> str | None:
    if p.participant is not None:
        return p.participant.display_name
    if row["participant_id"] is not None:
        proxy = await db.get(Participant, row["participant_id"])
        return proxy.display_name if proxy else None
    return p.account.display_name if p.account else None


async def _proxy_id(db: AsyncSession, session_id: int, value: Any) -> int | None:
    if value in (None, ""):
        return None
    participant = await db.get(Participant, validate.integer(value, "participant_id"))
    if participant is None or participant.session_id != session_id or participant.removed_at is not None:
        raise Invalid("That participant is not in this session.", {"participant_id": "Unknown participant."})
    # Only for people entered without a device: anyone else posts (and edits) their own notes.
    if not participant.proxy:
        raise Invalid(
            "Notes can be entered only for people without a device.", {"participant_id": "Not entered by proxy."}
        )
    return participant.id


async def _activity_id(db: AsyncSession, session: LabSession, value: Any) -> int | None:
    if value in (None, ""):
        return session.current_activity_id
    activity_id = validate.integer(value, "activity_id")
    from labs.models import Activity

    activity = await db.get(Activity, activity_id)
    if activity is None or activity.session_id != session.id:
        raise Invalid("That activity is not part of this session.", {"activity_id": "Unknown activity."})
    return activity_id


async def _case_id(db: AsyncSession, session_id: int, value: Any) -> int | None:
    if value in (None, ""):
        return None
    case_id = validate.integer(value, "case_id")
    shared = await db.scalar(
        select(CaseShare.id).where(CaseShare.session_id == session_id, CaseShare.case_id == case_id)
    )
    if not shared:
        raise Invalid("Notes can be about cases shared in this session.", {"case_id": "Not shared here."})
    return case_id


async def _note_in(db: AsyncSession, session_id: int, note_id: int) -> Note:
    note = await db.get(Note, note_id)
    if note is None or note.session_id != session_id or note.deleted:
        raise NotFound("No such note.")
    return note


async def _own_open_note(db: AsyncSession, participant: Participant, note_id: int) -> Note:
    note = await _note_in(db, participant.session_id, note_id)
    if note.participant_id != participant.id or note.entered_by_id is not None:
        raise Forbidden("You can change only your own notes.")
    session = await db.get(LabSession, participant.session_id)
    assert session is not None
    if session.status is not SessionStatus.live or (
        note.activity_id is not None and note.activity_id != session.current_activity_id
    ):
        raise Conflict("This activity is closed; its notes can no longer be changed.")
    return note


async def own(rt: Runtime, participant: Participant, note_id: int) -> dict[str, Any]:
    """A note its author may still change (for the edit form); the same checks as `edit`."""
    async with rt.db.read() as db:
        return note_data(await _own_open_note(db, participant, note_id), participant.display_name)


async def edit(rt: Runtime, participant: Participant, note_id: int, data: dict[str, Any]) -> dict[str, Any]:
    body = _body(data.get("body"))
    async with events.change(rt) as tx:
        note = await _own_open_note(tx.db, participant, note_id)
        session = await tx.db.get(LabSession, participant.session_id)
        assert session is not None
        note.body = body
        if data.get("kind"):
            note.kind = validate.choice(NoteKind, data["kind"], "kind")
        note.updated_at = datetime.now(UTC)
        was = note.approval
        if was is NoteApproval.rejected or (was is NoteApproval.approved and session.premoderation):
            note.approval = NoteApproval.pending  # waits (again) for a facilitator
        payload = note_data(note, participant.display_name)
        state = note_state(note)
        if note.approval is NoteApproval.approved:
            edited: catalogue.NoteState = catalogue.NoteEdited(**state)
        elif was is NoteApproval.approved:
            edited = catalogue.NoteEdited(**state, left_wall=True)  # the room's card goes
        else:
            edited = catalogue.NoteSubmitted(**state)  # it never reached the wall
        await tx.emit(Stream.session(note.session_id), edited, Actor.participant(participant.id))
    return payload


async def delete(rt: Runtime, participant: Participant, note_id: int) -> None:
    async with events.change(rt) as tx:
        note = await _own_open_note(tx.db, participant, note_id)
        note.deleted = True
        note.updated_at = datetime.now(UTC)
        await tx.emit(
            Stream.session(note.session_id),
            catalogue.NoteDeleted(**note_state(note)),
            Actor.participant(participant.id),
        )


MODERATION = {
    "hide": ("hidden", True),
    "restore": ("hidden", False),
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
}


async def moderate(rt: Runtime, account: Account, session_id: int, note_id: int, action: str) -> dict[str, Any]:
    """Hide/restore (kept in the log, hidden notes stay out of reports) and pin/unpin."""
    if action not in MODERATION:
        raise Invalid(f"Unknown action {action!r}; allowed: {', '.join(MODERATION)}.")
    attr, value = MODERATION[action]
    async with events.change(rt) as tx:
        await load_for(tx.db, session_id, account)
        note = await _note_in(tx.db, session_id, note_id)
        setattr(note, attr, value)
        note.updated_at = datetime.now(UTC)
        payload = note_data(note, await _author(tx.db, note))
        await tx.emit(
            Stream.session(session_id),
            catalogue.MODERATION_EVENTS[action](**note_state(note)),
            Actor.account(account.id),
        )
    return payload


async def cluster_note(rt: Runtime, account: Account, session_id: int, note_id: int, name: str) -> dict[str, Any]:
    """Put a note in the cluster called `name` (made on first use); an empty name takes it out."""
    name = str(name or "").strip()
    if len(name) > 120:
        raise Invalid("A cluster name is at most 120 characters.", {"name": "At most 120 characters."})
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        note = await _note_in(tx.db, session_id, note_id)
        cluster = None
        if name:
            cluster = await tx.db.scalar(select(Cluster).where(Cluster.session_id == session_id, Cluster.name == name))
            if cluster is None:
                cluster = Cluster(session_id=session_id, activity_id=session.current_activity_id, name=name)
                tx.db.add(cluster)
                await tx.db.flush()
                await tx.emit(
                    Stream.session(session_id),
                    catalogue.ClusterCreated(**cluster_data(cluster)),
                    Actor.account(account.id),
                )
        note.cluster_id = cluster.id if cluster else None
        payload = note_data(note, await _author(tx.db, note))
        await tx.emit(
            Stream.session(session_id),
            catalogue.NoteClustered(**note_state(note), cluster=name or None),
            Actor.account(account.id),
        )
    return payload


REVIEW = {
    "approve": (NoteApproval.approved, catalogue.NoteApproved),
    "reject": (NoteApproval.rejected, catalogue.NoteRejected),
}


async def review(rt: Runtime, account: Account, session_id: int, note_id: int, action: str) -> dict[str, Any]:
    """Approve a waiting note (it appears on every wall) or reject it (its author is told)."""
    if action not in REVIEW:
        raise Invalid(f"Unknown action {action!r}; allowed: {', '.join(REVIEW)}.")
    approval, decided = REVIEW[action]
    async with events.change(rt) as tx:
        await load_for(tx.db, session_id, account)
        note = await _note_in(tx.db, session_id, note_id)
        if note.approval is not NoteApproval.pending:
            raise Conflict("This note is not waiting for approval.")
        note.approval = approval
        note.updated_at = datetime.now(UTC)
        payload = note_data(note, await _author(tx.db, note))
        await tx.emit(Stream.session(session_id), decided(**note_state(note)), Actor.account(account.id))
    return payload


def cluster_data(cluster: Cluster) -> dict[str, Any]:
    return {"id": cluster.id, "name": cluster.name, "activity_id": cluster.activity_id}


# --- reading -------------------------------------------------------------------------------


async def wall(
    rt: Runtime, session_id: int, *, include_hidden: bool, viewer: int | None = None
) -> list[dict[str, Any]]:
    """The session's notes, oldest first, without deleted ones. `include_hidden` (the console):
    hidden ones and those waiting for approval too; otherwise the wall, with `viewer`'s own
    notes that wait for approval (or were rejected)."""
    query = (
        select(Note, Participant.display_name, Account.display_name)
        .outerjoin(Participant, Participant.id == Note.participant_id)
        .outerjoin(Account, Account.id == Note.entered_by_id)
        .where(Note.session_id == session_id, Note.deleted.is_(False))
        .order_by(Note.id)
    )
    if not include_hidden:
        approved = Note.approval == NoteApproval.approved
        query = query.where(
            Note.hidden.is_(False), or_(approved, Note.participant_id == viewer) if viewer else approved
        )
    async with rt.db.read() as db:
        rows = (await db.execute(query)).all()
    return [note_data(note, pname or aname) for note, pname, aname in rows]


@dataclass(frozen=True)
class WallFilter:
    """What a view of the wall shows: a kind, a cluster (NO_CLUSTER: notes in none) and hidden
    notes (None: shown and hidden; True: only hidden; False: only shown)."""

    kind: str | None = None
    cluster_id: int | None = None
    hidden: bool | None = None

    @classmethod
    def parse(cls, kind: Any = None, cluster: Any = None, hidden: Any = None) -> WallFilter:
        """From query values, checked: a wrong value is a 400 that names what is allowed."""
        return cls(
            kind=validate.choice(NoteKind, kind, "kind").value if kind else None,
            cluster_id=(NO_CLUSTER if cluster == "none" else validate.integer(cluster, "cluster")) if cluster else None,
            hidden=validate.choice(HiddenShown, hidden, "hidden") is HiddenShown.only if hidden else None,
        )


class HiddenShown(enum.StrEnum):
    only = "only"  # only the hidden notes
    no = "no"  # only the shown ones


NO_CLUSTER = 0
PAGE = 50


async def page(
    rt: Runtime,
    session_id: int,
    *,
    activity_id: int | None,
    include_hidden: bool,
    only: WallFilter = WallFilter(),
    before: int | None = None,
    limit: int = PAGE,
) -> list[dict[str, Any]]:
    """One page of the wall as the live views show it: pinned notes first, then the newest. The
    first page holds every pinned note; `before` (a note id) pages on through the older ones."""
    query = (
        select(Note, Participant.display_name, Account.display_name)
        .outerjoin(Participant, Participant.id == Note.participant_id)
        .outerjoin(Account, Account.id == Note.entered_by_id)
        .where(
            Note.session_id == session_id,
            Note.deleted.is_(False),
            Note.activity_id == activity_id,
            Note.approval == NoteApproval.approved,
        )
        .order_by(Note.pinned.desc(), Note.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(Note.id < before, Note.pinned.is_(False))
    if not include_hidden or only.hidden is False:
        query = query.where(Note.hidden.is_(False))
    elif only.hidden:
        query = query.where(Note.hidden.is_(True))
    if only.kind:
        query = query.where(Note.kind == NoteKind(only.kind))
    if only.cluster_id == NO_CLUSTER:
        query = query.where(Note.cluster_id.is_(None))
    elif only.cluster_id is not None:
        query = query.where(Note.cluster_id == only.cluster_id)
    async with rt.db.read() as db:
        rows = (await db.execute(query)).all()
    return [note_data(note, pname or aname) for note, pname, aname in rows]


QUEUE_PAGE = 20


async def waiting(
    rt: Runtime, session_id: int, page_number: Any = 1, *, author: int | None = None
) -> paging.Page[dict[str, Any]]:
    """The console's queue: notes waiting for approval, oldest first, a page at a time with their
    count. With `author`: that participant's own notes that wait or were rejected, newest first
    (their phone shows them apart from the wall)."""
    query = (
        select(Note, Participant.display_name, Account.display_name)
        .outerjoin(Participant, Participant.id == Note.participant_id)
        .outerjoin(Account, Account.id == Note.entered_by_id)
        .where(Note.session_id == session_id, Note.deleted.is_(False))
    )
    if author is None:
        query = query.where(Note.approval == NoteApproval.pending).order_by(Note.id)
    else:
        query = query.where(Note.participant_id == author, Note.approval != NoteApproval.approved)
        query = query.order_by(Note.id.desc())
    async with rt.db.read() as db:
        found = await paging.fetch(db, query, page_number, QUEUE_PAGE)
    items = [note_data(note, pname or aname) for note, pname, aname in found.items]
    return paging.Page(items, found.number, found.size, found.total)


async def clusters(rt: Runtime, session_id: int) -> list[dict[str, Any]]:
    async with rt.db.read() as db:
        rows = await db.scalars(select(Cluster).where(Cluster.session_id == session_id).order_by(Cluster.id))
        return [cluster_data(c) for c in rows.all()]
