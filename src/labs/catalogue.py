"""The one catalogue of event types: for each, its payload (a msgspec Struct), the stream it goes
on, the audiences that may see it, and what it changes.

Payloads refer to people by id (``participant_id``, ``member_id``, ``account_id``); names,
organisations, cities, sectors and consent live in their tables, where consent filters and erasure
act once, so the log never needs rewriting. What each audience receives of an event (API, stream,
event log, HTML fragments) is decided here, by :func:`view`, and nowhere else.

``python -m labs.catalogue --markdown`` prints the event table of ``docs/api.md``; a test checks
that the document holds it."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec


class Audience(enum.StrEnum):
    facilitator = "facilitator"  # the session's facilitators and admins: the console and its JSON
    participant = "participant"  # a participant's own screen and token
    projector = "projector"  # the public wall in the room
    researcher = "researcher"  # research pages and exports (consent-filtered there)


EVERYONE = frozenset(Audience)
STAFF = frozenset({Audience.facilitator, Audience.researcher})
ROOM = frozenset({Audience.facilitator, Audience.participant, Audience.projector})


class Payload(msgspec.Struct, kw_only=True):
    """Base of every event payload."""


@dataclass(frozen=True)
class Refs:
    """What the tables say now of the people and notes an event batch refers to, read once per
    batch: participant id -> row (display_name, organisation, city, sector, consent), account id ->
    display name, note id -> withheld (hidden or deleted since, or erased). Missing ids (erased
    people) simply resolve to nothing."""

    participants: Mapping[int, Any] = field(default_factory=dict)
    accounts: Mapping[int, str] = field(default_factory=dict)
    withheld_notes: frozenset[int] = frozenset()
    erased_notes: frozenset[int] = frozenset()  # removed with their author's erasure
    waiting_notes: frozenset[int] = frozenset()  # not approved (pre-moderation): off the wall now
    # The participant whose screen or token reads (None: an audience as a whole): their own notes
    # that wait for approval are theirs to see.
    viewer: int | None = None

    def name(self, participant_id: Any) -> str | None:
        row = self.participants.get(participant_id) if participant_id is not None else None
        return row.display_name if row is not None else None


# shape(data, audience, refs) -> what that audience gets of `data`; None: nothing (the event is
# redacted for it, as if the audience were not listed)
Shape = Callable[[dict[str, Any], Audience, Refs], dict[str, Any] | None]


def _as_is(data: dict[str, Any], _audience: Audience, _refs: Refs) -> dict[str, Any] | None:
    return data


@dataclass(frozen=True)
class EventType:
    name: str
    stream: str
    payload: type[Payload]
    audiences: frozenset[Audience]
    changes: tuple[str, ...]
    doc: str
    shape: Shape = _as_is


CATALOGUE: dict[str, EventType] = {}
_BY_CLASS: dict[type[Payload], EventType] = {}
P = TypeVar("P", bound=type[Payload])
Q = TypeVar("Q", bound=Payload)


def event(
    name: str,
    *,
    stream: str,
    audiences: Iterable[Audience],
    changes: tuple[str, ...],
    doc: str,
    shape: Shape = _as_is,
) -> Callable[[P], P]:
    def register(cls: P) -> P:
        if name in CATALOGUE:
            raise ValueError(f"event type {name} is registered twice")
        spec = EventType(name, stream, cls, frozenset(audiences), changes, doc, shape)
        CATALOGUE[name] = _BY_CLASS[cls] = spec
        return cls

    return register


def spec_of(payload: Payload) -> EventType:
    return _BY_CLASS[type(payload)]


def build(cls: type[Q], data: Mapping[str, Any]) -> Q:
    """A payload from a plain mapping (nested shapes included), its types checked."""
    return msgspec.convert(data, cls)


def encode(payload: Payload) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data


def decode(type_name: str, data: Mapping[str, Any]) -> Payload:
    """The typed payload of a stored event (tests and readers that want types, not dicts)."""
    return msgspec.convert(data, CATALOGUE[type_name].payload)


# --- per-audience views -------------------------------------------------------------------

REDACTED = "redacted"


def view(event: dict[str, Any], audience: Audience, refs: Refs) -> dict[str, Any]:
    """What `audience` receives of one event in its wire shape ({"seq", "type", "at", "data"}).
    An event the audience may not see keeps its place in the stream (seq stays gapless) but says
    nothing: {"seq", "at", "type": "redacted", "data": {}}. Types no longer in the catalogue
    (older logs) are for facilitators only."""
    spec = CATALOGUE.get(event["type"])
    data = None
    if spec is not None and audience in spec.audiences:
        data = spec.shape(dict(event["data"]), audience, refs)
    elif spec is None and audience is Audience.facilitator:
        return event
    if data is None:
        return {"seq": event["seq"], "at": event["at"], "type": REDACTED, "data": {}}
    return {**event, "data": data}


def note_ids(events: Iterable[dict[str, Any]]) -> set[int]:
    """The notes a batch of note events is about (whether each is still on the wall)."""
    return {e["data"]["id"] for e in events if e["type"] in NOTE_TYPES and isinstance(e["data"].get("id"), int)}


def personal_ids(events: Iterable[dict[str, Any]]) -> set[int]:
    """The participants who read a batch differently from the rest of the room: the authors of
    notes in it that wait for approval (or were rejected), whose own screens show them."""
    return {
        e["data"]["participant_id"]
        for e in events
        if e.get("type") in NOTE_TYPES
        and e["data"].get("approval", APPROVED) != APPROVED
        and isinstance(e["data"].get("participant_id"), int)
    }


def participant_ids(events: Iterable[dict[str, Any]]) -> set[int]:
    """The participants a batch of events refers to (for one lookup per batch)."""
    found: set[int] = set()
    for e in events:
        data = e.get("data") or {}
        for key in ("participant_id", "author_id"):
            if isinstance(data.get(key), int):
                found.add(data[key])
    return found


def account_ids(events: Iterable[dict[str, Any]]) -> set[int]:
    found: set[int] = set()
    for e in events:
        data = e.get("data") or {}
        for key in ("account_id", "entered_by_id"):
            if isinstance(data.get(key), int):
                found.add(data[key])
    return found


def _with_author(data: dict[str, Any], refs: Refs) -> dict[str, Any]:
    name = refs.name(data.get("participant_id"))
    if name is None and data.get("entered_by_id") is not None:
        name = refs.accounts.get(data["entered_by_id"])
    data["author"] = name
    return data


def _own(data: dict[str, Any], audience: Audience, refs: Refs) -> bool:
    return audience is Audience.participant and refs.viewer is not None and data.get("participant_id") == refs.viewer


def _note(data: dict[str, Any], audience: Audience, refs: Refs) -> dict[str, Any] | None:
    """The wall shows a note with its author's display name; outside the console a note that is
    hidden or deleted (then, or by now) is only its id and flags (the card goes), never its text.
    A note that waits for approval (or was rejected) is its author's and the console's alone:
    anyone else gets nothing of it, unless the change took it off their wall (its author edited
    it under pre-moderation: `left_wall`), when the card goes."""
    waiting = data.get("approval", APPROVED) != APPROVED
    console = audience is Audience.facilitator
    if waiting and not data.get("left_wall") and not console and not _own(data, audience, refs):
        return None
    data = _with_author(data, refs)
    withheld = data.get("hidden") or data.get("deleted") or data.get("id") in refs.withheld_notes
    if (waiting or data.get("id") in refs.waiting_notes) and not _own(data, audience, refs):
        withheld = True
    if data.get("id") in refs.erased_notes:
        data["deleted"] = True  # its author was erased with their notes: for the console too
    elif audience is Audience.facilitator:
        withheld = False
    if withheld:
        keep = ("id", "activity_id", "hidden", "deleted", "pinned", "cluster_id")
        gone = {k: data.get(k) for k in keep}
        if waiting or data.get("id") in refs.waiting_notes:
            gone["approval"] = data["approval"] if waiting else "pending"  # off the wall until approved
        return gone
    data.pop("entered_by_id", None)
    return data


def _participant(data: dict[str, Any], audience: Audience, refs: Refs) -> dict[str, Any]:
    """Facilitators see who joined as the tables hold it now. Nobody else's screen lists who joined
    (a participant's shows names only on notes), so everyone else gets the id alone."""
    if audience is not Audience.facilitator:
        return data
    row = refs.participants.get(data["participant_id"])
    data["display_name"] = row.display_name if row is not None else None
    if row is not None:
        data.update(
            organisation=row.organisation,
            city=row.city,
            sector=row.sector.value if row.sector else None,
            consent=row.consent.value,
        )
    return data


def _account(data: dict[str, Any], _audience: Audience, refs: Refs) -> dict[str, Any]:
    data["name"] = refs.accounts.get(data["account_id"])
    return data


def _vote(data: dict[str, Any], audience: Audience, _refs: Refs) -> dict[str, Any]:
    # Before the reveal nobody but the console may learn which note got a vote.
    if audience is not Audience.facilitator:
        data.pop("note_id", None)
    return data


# ==========================================================================================
# Sessions: planning and running (stream "session")
# ==========================================================================================


class ActivityState(Payload):
    id: int
    position: int
    title: str
    prompt: str
    minutes: int
    type: str
    opened_at: str | None = None
    closed_at: str | None = None


class TimerState(Payload):
    running: bool
    ends_at: str | None = None
    remaining_s: int | None = None


@event("session.created", stream="session", audiences=ROOM | STAFF, changes=("status",), doc="A session was planned.")
class SessionCreated(Payload):
    title: str
    kind: str


@event(
    "session.updated",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("status",),
    doc="The session's details changed: the changed fields.",
)
class SessionUpdated(Payload):
    title: str | None = None
    description: str | None = None
    kind: str | None = None
    city: str | None = None
    language: str | None = None
    starts_at: str | None = None
    community_id: int | None = None


@event(
    "session.started",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("status", "agenda", "current", "timer", "wall"),
    doc="The session went live.",
)
class SessionStarted(Payload):
    status: str = "live"


@event(
    "session.closed",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("status", "agenda", "current", "timer"),
    doc="The session was closed.",
)
class SessionClosed(Payload):
    status: str = "closed"


@event(
    "session.joining_changed",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("status",),
    doc="Who may join changed: when_live (the default), open (before it is live) or locked.",
)
class SessionJoiningChanged(Payload):
    joining: str


@event(
    "session.premoderation_changed",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("status", "queue"),
    doc="Pre-moderation went on or off: with it on, participants' new notes wait for a facilitator's "
    "approval. Turning it off approves nothing: waiting notes stay in the queue.",
)
class SessionPremoderationChanged(Payload):
    premoderation: bool


@event(
    "activity.added",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("agenda",),
    doc="An activity was added to the agenda.",
)
class ActivityAdded(ActivityState):
    pass


@event(
    "activity.updated",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("agenda", "current"),
    doc="An activity changed.",
)
class ActivityUpdated(ActivityState):
    pass


@event(
    "activity.removed",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("agenda",),
    doc="An activity was removed from the agenda.",
)
class ActivityRemoved(Payload):
    id: int


@event(
    "activities.reordered",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("agenda",),
    doc="The agenda's order changed: activity ids in their new order.",
)
class ActivitiesReordered(Payload):
    order: list[int]


@event(
    "activity.activated",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("agenda", "current", "timer", "wall", "clusters"),
    doc="The facilitator opened an activity (the previous one closed); its timer.",
)
class ActivityActivated(Payload):
    activity: ActivityState
    timer: TimerState


def _timer_event(name: str, doc: str) -> type[Payload]:
    cls = type(name.title().replace(".", ""), (TimerState,), {})
    return event(name, stream="session", audiences=ROOM | STAFF, changes=("timer",), doc=doc)(cls)


TimerStarted = _timer_event("timer.started", "The countdown started.")
TimerPaused = _timer_event("timer.paused", "The countdown paused (remaining_s holds what is left).")
TimerResumed = _timer_event("timer.resumed", "The countdown resumed.")
TimerExtended = _timer_event("timer.extended", "Time was added to the countdown.")
TimerStopped = _timer_event("timer.stopped", "The countdown stopped.")
TIMER_EVENTS = {
    "start": TimerStarted,
    "pause": TimerPaused,
    "resume": TimerResumed,
    "add": TimerExtended,
    "stop": TimerStopped,
}


@event(
    "facilitator.added",
    stream="session",
    audiences={Audience.facilitator},
    changes=(),
    doc="A co-facilitator was added; facilitators see their account name.",
    shape=_account,
)
class FacilitatorAdded(Payload):
    account_id: int


# ==========================================================================================
# Refs in a session (stream "session")
# ==========================================================================================


@event(
    "participant.joined",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("people",),
    doc="Someone joined (or was entered by proxy). Facilitators get display_name, organisation, "
    "city, sector and consent as the tables hold them; everyone else `participant_id` and `proxy` only.",
    shape=_participant,
)
class ParticipantJoined(Payload):
    participant_id: int
    proxy: bool = False


@event(
    "consent.changed",
    stream="session",
    audiences={Audience.facilitator, Audience.researcher},
    changes=("people",),
    doc="A participant changed their consent choice (facilitators only).",
)
class ConsentChanged(Payload):
    participant_id: int
    consent: str


@event(
    "participant.erased",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("people", "wall", "clusters", "votes"),
    doc="An admin erased a participant (a privacy request): their row is gone, their notes lost "
    "their author (`notes`: `unlink`) or went too (`remove`).",
)
class ParticipantErased(Payload):
    participant_id: int
    notes: str


def _removed(data: dict[str, Any], audience: Audience, _refs: Refs) -> dict[str, Any] | None:
    """Outside the console a removal is only what it takes off the wall: the notes that went
    (nothing at all when they stay)."""
    if audience in (Audience.facilitator, Audience.researcher):
        return data
    return {"note_ids": data["note_ids"]} if data["note_ids"] else None


@event(
    "participant.removed",
    stream="session",
    audiences=ROOM | STAFF,
    changes=("people", "wall"),
    doc="A facilitator removed a participant from the session: their token stopped working and "
    "their open streams closed. `notes`: `keep` (their notes stay on the wall) or `remove` (they "
    "went, as if deleted: `note_ids`). Participants and the projector get `note_ids` alone, and "
    "nothing at all when no note went.",
    shape=_removed,
)
class ParticipantRemoved(Payload):
    participant_id: int
    notes: str
    note_ids: list[int] = []


# ==========================================================================================
# Notes and clusters (stream "session")
# ==========================================================================================


class NoteState(Payload):
    """The full state of a note (with its text); author by id, shown by display name."""

    id: int
    client_id: str
    body: str
    kind: str
    activity_id: int | None
    participant_id: int | None
    created_at: str
    entered_by_id: int | None = None
    case_id: int | None = None
    cluster_id: int | None = None
    hidden: bool = False
    pinned: bool = False
    deleted: bool = False
    # approved (on the wall), pending (waiting for a facilitator: pre-moderation) or rejected
    approval: str = "approved"
    left_wall: bool = False  # this change took an approved note off the wall (back to pending)


APPROVED = "approved"
_NOTE_DOC = (
    "The whole note with `author` (display name). Outside the console a hidden or deleted note is "
    "only `id`, `activity_id`, `hidden`, `deleted`, `pinned` and `cluster_id`: never its text. A note "
    "that is not `approval: approved` reaches only the console and its author (everyone else: "
    "`redacted`, or with `left_wall` the card going)."
)


def _note_event(name: str, doc: str, changes: tuple[str, ...] = ("wall",)) -> type[NoteState]:
    cls = type(name.title().replace(".", ""), (NoteState,), {})
    register = event(name, stream="session", audiences=EVERYONE, changes=changes, doc=f"{doc} {_NOTE_DOC}", shape=_note)
    return register(cls)


NoteAdded = _note_event("note.added", "A note was posted.")
NoteEdited = _note_event("note.edited", "Its author edited a note.")
NoteDeleted = _note_event("note.deleted", "Its author deleted a note.")
NoteHidden = _note_event("note.hidden", "A facilitator hid a note.")
NoteRestored = _note_event("note.restored", "A facilitator restored a hidden note.")
NoteSubmitted = _note_event(
    "note.submitted",
    "Under pre-moderation a participant posted a note (or edited one that waits): it waits for "
    "approval (`approval: pending`).",
    ("wall", "queue"),
)
NoteApproved = _note_event(
    "note.approved", "A facilitator approved a waiting note: it is on the wall now.", ("wall", "queue")
)
NoteRejected = _note_event(
    "note.rejected", "A facilitator rejected a waiting note: it stays off the wall; its author is told.", ("queue",)
)
NotePinned = _note_event("note.pinned", "A facilitator pinned a note.")
NoteUnpinned = _note_event("note.unpinned", "A facilitator unpinned a note.")
NOTE_TYPES = {spec.name for spec in CATALOGUE.values() if issubclass(spec.payload, NoteState)} | {"note.clustered"}
MODERATION_EVENTS = {"hide": NoteHidden, "restore": NoteRestored, "pin": NotePinned, "unpin": NoteUnpinned}


@event(
    "note.clustered",
    stream="session",
    audiences=EVERYONE,
    changes=("wall", "clusters"),
    doc=f"A note was put in a cluster (`cluster`: its name, or null when taken out). {_NOTE_DOC}",
    shape=_note,
)
class NoteClustered(NoteState):
    cluster: str | None = None


@event("cluster.created", stream="session", audiences=EVERYONE, changes=("clusters",), doc="A cluster was made.")
class ClusterCreated(Payload):
    id: int
    name: str
    activity_id: int | None


# ==========================================================================================
# Votes (stream "session")
# ==========================================================================================


class VoteResult(msgspec.Struct, kw_only=True):
    note_id: int
    body: str
    kind: str
    votes: int


class RoundState(Payload):
    id: int
    title: str
    activity_id: int | None
    votes_per_participant: int
    status: str
    results: list[VoteResult] | None = None


@event("vote.round_opened", stream="session", audiences=EVERYONE, changes=("votes",), doc="A dot-voting round opened.")
class VoteRoundOpened(RoundState):
    pass


@event(
    "vote.round_closed",
    stream="session",
    audiences=EVERYONE,
    changes=("votes",),
    doc="Voting closed (results still hidden).",
)
class VoteRoundClosed(RoundState):
    pass


@event(
    "vote.revealed",
    stream="session",
    audiences=EVERYONE,
    changes=("votes",),
    doc="The results were revealed: `results` [{note_id, body, kind, votes}].",
)
class VoteRevealed(RoundState):
    pass


class VoteCount(Payload):
    round_id: int
    participant_id: int
    used: int
    left: int
    note_id: int


_VOTE_DOC = " Only facilitators get `note_id` (which note got the vote)."


@event(
    "vote.cast",
    stream="session",
    audiences=EVERYONE,
    changes=("votes",),
    doc="A participant cast a vote." + _VOTE_DOC,
    shape=_vote,
)
class VoteCast(VoteCount):
    pass


@event(
    "vote.retracted",
    stream="session",
    audiences=EVERYONE,
    changes=("votes",),
    doc="A participant took a vote back." + _VOTE_DOC,
    shape=_vote,
)
class VoteRetracted(VoteCount):
    pass


# ==========================================================================================
# Cases (stream "case"; sharing into a session goes on the session's stream)
# ==========================================================================================


class CaseState(Payload):
    id: int
    title: str
    summary: str
    city: str
    country: str
    sdgs: list[int]
    topics: list[str]
    stage: str
    boosters: str
    barriers: str
    organisation: str | None = None
    links: list[str] = []
    status: str = "published"
    derived_from_id: int | None = None
    from_outcome_id: int | None = None


@event(
    "case.created",
    stream="case",
    audiences=STAFF,
    changes=("case",),
    doc="A case was added to the library (`source`: `library` from the form or the API, `import` "
    "from `labs cases import`).",
)
class CaseCreated(Payload):
    case: CaseState
    source: str


@event(
    "case.updated",
    stream="case",
    audiences=STAFF,
    changes=("case",),
    doc="A case was edited: the case as it is now and the names of the fields that changed.",
)
class CaseUpdated(Payload):
    case: CaseState
    changed: list[str]


@event("case.archived", stream="case", audiences=STAFF, changes=("case",), doc="A case left the library's lists.")
class CaseArchived(Payload):
    case_id: int


@event(
    "case.restored", stream="case", audiences=STAFF, changes=("case",), doc="An archived case is back in the library."
)
class CaseRestored(Payload):
    case_id: int


@event(
    "case.deleted",
    stream="case",
    audiences=STAFF,
    changes=("case",),
    doc="A case nothing pointed at was deleted; its stream ends here.",
)
class CaseDeleted(Payload):
    case_id: int
    title: str


@event(
    "submission.received",
    stream="case",
    audiences=STAFF,
    changes=("case", "review"),
    doc='A project came in through "Share a project" and waits for review (status `submitted`). '
    "The submitter is the actor (kind `submitter`, id: the submission); their name and email stay "
    "in the submission, never in the log.",
)
class SubmissionReceived(Payload):
    submission_id: int
    case: CaseState


@event(
    "submission.accepted",
    stream="case",
    audiences=STAFF,
    changes=("case", "review"),
    doc="A reviewer took a shared project into the library: the case as published and the fields the reviewer edited.",
)
class SubmissionAccepted(Payload):
    submission_id: int
    case: CaseState
    edited: list[str]


@event(
    "submission.rejected",
    stream="case",
    audiences=STAFF,
    changes=("review",),
    doc="A reviewer kept a shared project out of the library, with the reason.",
)
class SubmissionRejected(Payload):
    submission_id: int
    case_id: int
    reason: str


@event(
    "case.shared",
    stream="session",
    audiences=EVERYONE,
    changes=("cases",),
    doc="A case was presented in the session: the share (`presenter` is the name given for "
    "whoever presented it) with the case.",
)
class CaseShared(Payload):
    id: int
    case_id: int
    session_id: int
    activity_id: int | None
    presenter: str | None
    case: CaseState


@event(
    "case.derived",
    stream="case",
    audiences=STAFF,
    changes=("case",),
    doc="A new case derived from an earlier one (an adopted practice), through the outcome that "
    "records the adoption; on the new case's stream.",
)
class CaseDerived(Payload):
    case: CaseState
    from_case_id: int
    outcome_id: int


# ==========================================================================================
# Outcomes and follow-ups (stream "outcome"; the session's summary on the session's stream)
# ==========================================================================================


class OutcomeSources(msgspec.Struct, kw_only=True):
    note_ids: list[int] = []
    cluster_ids: list[int] = []
    case_ids: list[int] = []


class OutcomeState(Payload):
    """The outcome-harvesting record. The owner's and the verifier's names and the owner's email
    stay in the outcome's row: `has_owner` and `verified_on` say only that they exist."""

    id: int
    session_id: int | None
    community_id: int | None
    kind: str
    title: str
    what_changed: str
    who: str
    change_agent: str
    when_on: str | None
    where: str | None
    significance: str
    contribution: str
    evidence: str
    verified_on: str | None
    has_owner: bool
    due_on: str | None
    sources: OutcomeSources
    experiment_id: int | None = None  # an action of a living lab's experiment


@event(
    "outcome.recorded",
    stream="outcome",
    audiences=STAFF,
    changes=("outcome",),
    doc="An outcome was recorded (the outcome-harvesting record) with the notes, clusters and cases it came from.",
)
class OutcomeRecorded(OutcomeState):
    pass


@event(
    "outcome.updated",
    stream="outcome",
    audiences=STAFF,
    changes=("outcome",),
    doc="An outcome's record or sources changed: its whole new state.",
)
class OutcomeUpdated(OutcomeState):
    pass


class FollowUpRef(Payload):
    id: int
    outcome_id: int


@event(
    "followup.scheduled",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="A check-in on an outcome was planned for `due_on` (by default 1, 3 and 6 months after the session).",
)
class FollowUpScheduled(FollowUpRef):
    due_on: str


@event(
    "followup.rescheduled",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="A check-in was moved from `previous_due_on` to `due_on`; its private link stays the same.",
)
class FollowUpRescheduled(FollowUpRef):
    due_on: str
    previous_due_on: str


@event(
    "followup.cancelled",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="A check-in was called off: its private link stops working.",
)
class FollowUpCancelled(FollowUpRef):
    pass


@event(
    "followup.sent",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="A check-in's private link was emailed to the outcome's owner (`labs followups send`), in `language`.",
)
class FollowUpSent(FollowUpRef):
    channel: str
    language: str


@event(
    "followup.send_failed",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="The mail server refused a check-in's email; the next `labs followups send` tries again.",
)
class FollowUpSendFailed(FollowUpRef):
    reason: str


@event(
    "followup.answered",
    stream="outcome",
    audiences=STAFF,
    changes=("follow_ups",),
    doc="The owner answered a check-in through its private link (`answer` counts: 2 and up update "
    "an earlier answer, which stays in the log): `progress` is planned, in_progress, adopted, "
    "adapted, scaled or stopped.",
)
class FollowUpAnswered(FollowUpRef):
    answer: int
    progress: str
    what_was_done: str
    evidence: str
    adopting_city: str | None
    adaptations: str


@event(
    "session.summary_written",
    stream="session",
    audiences=STAFF,
    changes=("summary",),
    doc="The facilitator wrote (or rewrote) the session's summary for its record.",
)
class SessionSummaryWritten(Payload):
    session_id: int
    summary: str


# ==========================================================================================
# Communities and members (stream "community")
# ==========================================================================================


class CommunityState(Payload):
    community_id: int
    name: str
    kind: str
    description: str
    city: str | None
    started_on: str | None
    erasure_mode: str


@event(
    "community.created",
    stream="community",
    audiences=STAFF,
    changes=("community",),
    doc="A learning community, living lab or community of practice was created.",
)
class CommunityCreated(CommunityState):
    pass


@event(
    "community.updated",
    stream="community",
    audiences=STAFF,
    changes=("community",),
    doc="A community's details changed: all of them as they are now.",
)
class CommunityUpdated(CommunityState):
    pass


@event(
    "community.session_added",
    stream="community",
    audiences=STAFF,
    changes=("timeline",),
    doc="A session was put in the community.",
)
class CommunitySessionAdded(Payload):
    community_id: int
    session_id: int


@event(
    "community.session_removed",
    stream="community",
    audiences=STAFF,
    changes=("timeline",),
    doc="A session was taken out of the community.",
)
class CommunitySessionRemoved(Payload):
    community_id: int
    session_id: int


@event(
    "member.added",
    stream="community",
    audiences=STAFF,
    changes=("members",),
    doc="Someone joined a session of the community for the first time (from a device it did not "
    "know, or entered by a facilitator): a new member.",
)
class MemberAdded(Payload):
    member_id: int
    participant_id: int
    session_id: int


@event(
    "member.linked",
    stream="community",
    audiences=STAFF,
    changes=("members",),
    doc="A participant is an existing member: they rejoined from the same device (`by`: "
    "`device`), or a facilitator linked them (`facilitator`; `from_member_id`: the member they "
    "were before, merged away if it had no one else).",
)
class MemberLinked(Payload):
    member_id: int
    participant_id: int
    session_id: int
    by: str
    from_member_id: int | None = None


@event(
    "member.unlinked",
    stream="community",
    audiences=STAFF,
    changes=("members",),
    doc="A facilitator unlinked a participant from a member: they are `new_member_id` now.",
)
class MemberUnlinked(Payload):
    member_id: int
    participant_id: int
    session_id: int
    new_member_id: int


@event(
    "member.merged",
    stream="community",
    audiences=STAFF,
    changes=("members",),
    doc="A facilitator merged member `merged_id` into `member_id` (`participants`: how many session visits moved).",
)
class MemberMerged(Payload):
    member_id: int
    merged_id: int
    participants: int


@event(
    "member.erased",
    stream="community",
    audiences=STAFF,
    changes=("members",),
    doc="An admin erased a member (a privacy request); the deletion log keeps the ids.",
)
class MemberErased(Payload):
    member_id: int


# ==========================================================================================
# Research: grants, coding, memos, exports
# ==========================================================================================

# Research streams: research:<session id> for codings and memos on a session's material (never
# the session's live stream: the room does not hear of analysis); research:0 for the codebook,
# memos on codes and the export log.

RESEARCHERS = frozenset({Audience.researcher})


def _research_event(name: str, base: type[Q], changes: tuple[str, ...], doc: str, shape: Shape = _as_is) -> type[Q]:
    cls: type[Q] = type(name.title().replace(".", ""), (base,), {})
    return event(name, stream="research", audiences=RESEARCHERS, changes=changes, doc=doc, shape=shape)(cls)


class CodeState(Payload):
    id: int
    name: str
    description: str
    color: str
    parent_id: int | None = None


CodeCreated = _research_event(
    "code.created", CodeState, ("codebook",), "A code was added to the codebook (research:0)."
)
CodeUpdated = _research_event(
    "code.updated", CodeState, ("codebook",), "A code's name, description, colour or parent changed (research:0)."
)


@event(
    "code.deleted",
    stream="research",
    audiences=RESEARCHERS,
    changes=("codebook", "codings"),
    doc="A code was removed with its codings; its subcodes moved up to `parent_id` (research:0).",
)
class CodeDeleted(Payload):
    id: int
    parent_id: int | None = None


class CodingState(Payload):
    id: int
    code_id: int
    note_id: int
    session_id: int
    account_id: int | None
    start: int | None = None
    end: int | None = None


_CODING_DOC = (
    " `start`/`end`: the span [start, end) in characters of the note's text, null for the whole "
    "note; `account_id`: the researcher (researchers get their `name`). On research:<session id>."
)
CodingAdded = _research_event(
    "coding.added", CodingState, ("codings",), "A researcher applied a code to a note." + _CODING_DOC, _account
)
CodingRemoved = _research_event(
    "coding.removed", CodingState, ("codings",), "A researcher took back their coding." + _CODING_DOC, _account
)


class MemoRef(Payload):
    id: int
    account_id: int
    note_id: int | None = None
    code_id: int | None = None
    session_id: int | None = None


_MEMO_DOC = (
    " Ids only, never the title or text: a memo is its author's alone. On research:<session id> "
    "for memos on a note or a session, research:0 for memos on a code."
)
MemoWritten = _research_event(
    "memo.written", MemoRef, ("memos",), "A researcher wrote a memo on a note, a code or a session." + _MEMO_DOC
)
MemoEdited = _research_event("memo.edited", MemoRef, ("memos",), "A researcher changed their memo." + _MEMO_DOC)
MemoDeleted = _research_event("memo.deleted", MemoRef, ("memos",), "A researcher deleted their memo." + _MEMO_DOC)


@event(
    "export.made",
    stream="research",
    audiences=STAFF,
    changes=(),
    doc="Research data left the app: `format` (csv, json, qdpx, qdc), `scope` (session:<id>, "
    "community:<id>, all, codebook), its `session_ids`, `via` (web, api, cli) and rows per file; "
    "the actor is who exported (the system for the command line). On research:0.",
)
class ExportMade(Payload):
    format: str
    scope: str
    session_ids: list[int]
    via: str
    counts: dict[str, int]


class SessionGrant(Payload):
    grant_id: int
    account_id: int  # the researcher
    session_id: int


class CommunityGrant(Payload):
    grant_id: int
    account_id: int  # the researcher
    community_id: int


def _grant_event(name: str, stream: str, base: type[Payload], doc: str) -> type[Payload]:
    cls = type(name.title().replace(".", "").replace("_", ""), (base,), {})
    return event(
        name, stream=stream, audiences=STAFF, changes=(), doc=f"{doc} Staff see the researcher's name.", shape=_account
    )(cls)


ResearchGranted = _grant_event(
    "research.granted", "session", SessionGrant, "A researcher was given access to the session's research views."
)
ResearchRevoked = _grant_event(
    "research.revoked", "session", SessionGrant, "A researcher's access to the session was revoked."
)
CommunityResearchGranted = _grant_event(
    "research.community_granted",
    "community",
    CommunityGrant,
    "A researcher was given access to the community and all its sessions.",
)
CommunityResearchRevoked = _grant_event(
    "research.community_revoked", "community", CommunityGrant, "A researcher's access to the community was revoked."
)


# ==========================================================================================
# Polls and scales (stream "session")
# ==========================================================================================


def _answer(data: dict[str, Any], audience: Audience, _refs: Refs) -> dict[str, Any]:
    # What someone answered stays with the console until the reveal sends the tally.
    if audience is not Audience.facilitator:
        data.pop("choices", None)
        data.pop("number", None)
    return data


@event(
    "poll.created",
    stream="session",
    audiences=EVERYONE,
    changes=("agenda", "poll"),
    doc="A poll, scale or number question was added (with its `activity.added`).",
)
class PollCreated(Payload):
    id: int
    activity_id: int
    kind: str
    question: str
    options: list[str]
    status: str
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: str | None = None
    max_label: str | None = None
    number_min: float | None = None
    number_max: float | None = None
    unit: str | None = None


@event(
    "poll.redefined",
    stream="session",
    audiences=EVERYONE,
    changes=("agenda", "poll"),
    doc="A poll's question changed with its activity (its kind, options, scale or range) before anyone "
    "answered: the whole definition as it is now.",
)
class PollRedefined(PollCreated):
    pass


class PollRef(Payload):
    poll_id: int


@event(
    "poll.removed",
    stream="session",
    audiences=EVERYONE,
    changes=("agenda", "poll"),
    doc="An activity stopped being a poll, scale or number question before anyone answered; its question went.",
)
class PollRemoved(PollRef):
    pass


@event("poll.opened", stream="session", audiences=EVERYONE, changes=("poll",), doc="A poll opened for answers.")
class PollOpened(PollRef):
    pass


@event("poll.closed", stream="session", audiences=EVERYONE, changes=("poll",), doc="A poll closed (results hidden).")
class PollClosed(PollRef):
    pass


@event(
    "poll.answered",
    stream="session",
    audiences=EVERYONE,
    changes=("poll_count",),
    doc="Someone answered (or changed their answer; `entered_by_id` for a proxy answer). Only "
    "facilitators get `choices` and `number`.",
    shape=_answer,
)
class PollAnswered(Payload):
    poll_id: int
    participant_id: int
    client_id: str
    choices: list[int]
    number: float | None = None
    changed: bool = False
    entered_by_id: int | None = None


class PollBar(Payload):
    label: str
    count: int
    share: int = 0


class PollResults(Payload):
    answers: int
    bars: list[PollBar] = []
    mean: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None


@event(
    "poll.revealed",
    stream="session",
    audiences=EVERYONE,
    changes=("poll",),
    doc="The tally was revealed: `results` {answers, bars: [{label, count, share}], mean, median, min, max}.",
)
class PollRevealed(PollRef):
    results: PollResults


# ==========================================================================================
# Living labs: Theory of Change, indicators, experiments (stream "community")
# ==========================================================================================


class TocNodeFields(Payload):
    community_id: int
    node_id: int
    kind: str
    title: str
    description: str
    about_id: int | None


@event(
    "toc.node_added",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="An element was added to a living lab's Theory of Change (a step of the chain, an actor, a booster or "
    "barrier, an assumption).",
)
class TocNodeAdded(TocNodeFields):
    pass


@event(
    "toc.node_updated",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="An element of the Theory of Change changed.",
)
class TocNodeUpdated(TocNodeFields):
    pass


@event(
    "toc.node_removed",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="An element was removed, with its links.",
)
class TocNodeRemoved(Payload):
    community_id: int
    node_id: int
    title: str


class _TocLink(Payload):
    community_id: int
    link_id: int
    from_id: int
    to_id: int


@event(
    "toc.link_added",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="A 'leads to' link was added (never a cycle).",
)
class TocLinkAdded(_TocLink):
    pass


@event("toc.link_removed", stream="community", audiences=STAFF, changes=("toc",), doc="A 'leads to' link was removed.")
class TocLinkRemoved(_TocLink):
    pass


class _TocOutcome(Payload):
    community_id: int
    node_id: int
    outcome_id: int


@event(
    "toc.outcome_attached",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="A recorded outcome was attached to a node.",
)
class TocOutcomeAttached(_TocOutcome):
    pass


@event(
    "toc.outcome_detached",
    stream="community",
    audiences=STAFF,
    changes=("toc",),
    doc="An outcome was detached from a node.",
)
class TocOutcomeDetached(_TocOutcome):
    pass


class IndicatorFields(Payload):
    community_id: int
    id: int
    node_id: int
    name: str
    unit: str
    direction: str
    source: str
    baseline: float
    baseline_on: str
    target: float
    target_on: str
    range_min: float | None
    range_max: float | None


@event(
    "indicator.defined",
    stream="community",
    audiences=STAFF,
    changes=("indicators",),
    doc="An indicator was defined on an outcome node: unit, direction, data source, baseline and target with their "
    "dates, declared range.",
)
class IndicatorDefined(IndicatorFields):
    pass


@event(
    "indicator.updated",
    stream="community",
    audiences=STAFF,
    changes=("indicators",),
    doc="An indicator's definition changed.",
)
class IndicatorUpdated(IndicatorFields):
    pass


@event(
    "measurement.recorded",
    stream="community",
    audiences=STAFF,
    changes=("indicators",),
    doc="A measurement of an indicator, `via` screen, csv (one event per row) or poll (with the session and poll it "
    "came from).",
)
class MeasurementRecorded(Payload):
    community_id: int
    id: int
    indicator_id: int
    value: float
    measured_on: str
    wave: str | None
    note: str
    session_id: int | None
    poll_id: int | None
    via: str


class ExperimentFields(Payload):
    community_id: int
    id: int
    title: str
    hypothesis: str
    link_id: int | None
    topics: list[str]
    sdgs: list[int]
    status: str


@event(
    "experiment.planned",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="A living lab planned an experiment: its hypothesis, tied to a 'leads to' link of its Theory of Change.",
)
class ExperimentPlanned(ExperimentFields):
    pass


@event(
    "experiment.updated",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="An experiment's plan or status (planned, running, finished) changed.",
)
class ExperimentUpdated(ExperimentFields):
    pass


@event(
    "experiment.action_added",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="An action of an experiment, with its due date: an outcome of the lab (`outcome_id`, its "
    "`outcome.recorded` on the outcome's stream) with one check-in (`follow_up_id`) whose private "
    "link the owner answers; the owner's name and email stay in the outcome's table.",
)
class ExperimentActionAdded(Payload):
    community_id: int
    experiment_id: int
    outcome_id: int
    follow_up_id: int
    title: str
    due_on: str


@event(
    "experiment.session_linked",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="A session now belongs to an experiment.",
)
class ExperimentSessionLinked(Payload):
    community_id: int
    experiment_id: int
    session_id: int


@event(
    "experiment.evaluated",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="An experiment's evaluation after the lab's protocol: result, what was tried, what worked and what didn't, "
    "for whom, in which context, why, and the evidence.",
)
class ExperimentEvaluated(Payload):
    community_id: int
    experiment_id: int
    result: str
    tried: str
    worked: str
    did_not_work: str
    for_whom: str
    context: str
    why: str
    evidence: str


@event(
    "experiment.case_made",
    stream="community",
    audiences=STAFF,
    changes=("experiments",),
    doc="A finished experiment became a case in the case library.",
)
class ExperimentCaseMade(Payload):
    community_id: int
    experiment_id: int
    case_id: int


# --- documentation ------------------------------------------------------------------------


def markdown() -> str:
    """The event table of docs/api.md."""
    order = [a.value for a in Audience]
    lines = ["| type | stream | who sees it | data |", "|---|---|---|---|"]
    for spec in CATALOGUE.values():
        fields = ", ".join(f"`{f}`" for f in spec.payload.__struct_fields__)
        who = ", ".join(a for a in order if a in spec.audiences)
        lines.append(f"| `{spec.name}` | {spec.stream} | {who} | {spec.doc} Fields: {fields or 'none'}. |")
    return "\n".join(lines) + "\n"


START, END = "<!-- catalogue:start -->\n", "<!-- catalogue:end -->"


def update_docs(path: str) -> None:
    """Write the event table between the catalogue markers of a Markdown file."""
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    if START not in doc or END not in doc:
        sys.exit(f"{path} has no {START.strip()} … {END} markers")
    head, rest = doc.split(START, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + START + markdown() + END + rest.split(END, 1)[1])


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["--markdown"]:
            sys.stdout.write(markdown())
        case ["--update-docs", path]:
            update_docs(path)
        case _:
            sys.exit("usage: python -m labs.catalogue --markdown | --update-docs docs/api.md")
