"""Tables for the whole mission: communities, sessions and their agendas, people, cases, notes,
votes, outcomes and follow-ups, and the per-session event log that every change appends to."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import (
    DDL,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


# Stable constraint names keep Alembic batch operations on SQLite and PostgreSQL in step.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def enum_column(enum_cls: type[enum.Enum], **kw: Any) -> Any:
    # Stored as plain strings (no native enum type): adding a value later needs no type migration.
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        **kw,
    )


class Role(enum.StrEnum):
    admin = "admin"
    facilitator = "facilitator"
    researcher = "researcher"


class SessionKind(enum.StrEnum):
    workshop = "workshop"
    co_creation_lab = "co_creation_lab"
    learning_community_meeting = "learning_community_meeting"
    other = "other"


class SessionStatus(enum.StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    live = "live"
    closed = "closed"


class NoteApproval(enum.StrEnum):
    """Under pre-moderation a participant's note waits for a facilitator before the wall shows it."""

    approved = "approved"  # on the wall (every note without pre-moderation)
    pending = "pending"  # waiting: only its author and the console see it
    rejected = "rejected"  # kept off the wall: its author is told, the console keeps it


class Joining(enum.StrEnum):
    """Who may join: by default only while the session is live; a facilitator can open a planned
    session early, or lock a live one (nobody new, everyone present stays)."""

    when_live = "when_live"
    open = "open"
    locked = "locked"


class CommunityKind(enum.StrEnum):
    learning_community = "learning_community"
    living_lab = "living_lab"
    community_of_practice = "community_of_practice"


class ErasureMode(enum.StrEnum):
    """What erasing a person does to their notes (a community's setting)."""

    unlink = "unlink"  # the notes stay, without any link to the person
    remove = "remove"  # the notes go too


class ActivityType(enum.StrEnum):
    brainstorm = "brainstorm"
    discussion = "discussion"
    case_presentation = "case_presentation"
    voting = "voting"
    reflection = "reflection"
    poll = "poll"
    scale = "scale"
    number = "number"


class Consent(enum.StrEnum):
    none = "none"
    anonymous = "anonymous"
    pseudonymous = "pseudonymous"
    named = "named"


class Sector(enum.StrEnum):
    citizen = "citizen"
    government = "government"
    business = "business"
    knowledge_institution = "knowledge_institution"
    civil_society = "civil_society"


class NoteKind(enum.StrEnum):
    idea = "idea"
    insight = "insight"
    question = "question"
    booster = "booster"
    barrier = "barrier"
    action = "action"


class CaseStage(enum.StrEnum):
    idea = "idea"
    pilot = "pilot"
    implemented = "implemented"
    scaled = "scaled"
    ended = "ended"


class CaseStatus(enum.StrEnum):
    submitted = "submitted"  # sent through "Share a project", waiting in the review queue
    published = "published"  # in the library
    rejected = "rejected"  # turned down in review; kept for the record, never listed
    archived = "archived"  # out of the library's lists, still on record and linkable


class VoteRoundStatus(enum.StrEnum):
    open = "open"
    closed = "closed"
    revealed = "revealed"


class OutcomeKind(enum.StrEnum):
    new_practice = "new_practice"
    adapted_practice = "adapted_practice"
    policy_change = "policy_change"
    new_collaboration = "new_collaboration"
    knowledge_product = "knowledge_product"
    other = "other"


class FollowUpStatus(enum.StrEnum):
    """The check-in itself: waiting for its owner, answered (perhaps more than once), or called off."""

    planned = "planned"
    answered = "answered"
    cancelled = "cancelled"


class Progress(enum.StrEnum):
    """Where the practice stands, as its owner reports in a check-in."""

    planned = "planned"
    in_progress = "in_progress"
    adopted = "adopted"
    adapted = "adapted"
    scaled = "scaled"
    stopped = "stopped"


class ActorKind(enum.StrEnum):
    account = "account"
    participant = "participant"
    submitter = "submitter"  # someone without an account, through "Share a project" (id: the submission)
    system = "system"
    # The owner of an outcome answering a check-in through its private link (id: the follow-up).
    owner = "owner"


# --- accounts and access -------------------------------------------------------------------


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class LoginSession(Base):
    """Server-side browser session. The cookie holds a random secret; only its SHA-256 is stored,
    so a copy of the database logs nobody in. It ends after a while without requests (last_seen_at,
    refreshed every few minutes) or at expires_at, whichever comes first."""

    __tablename__ = "login_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class ApiToken(Base):
    """Bearer token for scripts and integrations; only its SHA-256 is stored. Refused from
    expires_at on; revoking deletes the row."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class ResearchGrant(Base):
    """A researcher's access to one session or to one community (then to all its sessions), given
    by an admin or by the session's facilitator. Revoking deletes the row; the event log keeps both."""

    __tablename__ = "research_grant"
    __table_args__ = (
        UniqueConstraint("account_id", "session_id"),
        UniqueConstraint("account_id", "community_id"),
        CheckConstraint("(session_id IS NULL) <> (community_id IS NULL)", name="one_scope"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- communities and sessions --------------------------------------------------------------


class Community(Base):
    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CommunityKind] = mapped_column(enum_column(CommunityKind))
    description: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str | None] = mapped_column(String(120))
    started_on: Mapped[date | None] = mapped_column(Date)
    erasure_mode: Mapped[ErasureMode] = mapped_column(enum_column(ErasureMode), default=ErasureMode.unlink)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    sessions: Mapped[list[LabSession]] = relationship(back_populates="community")
    members: Mapped[list[Member]] = relationship(back_populates="community")


class LabSession(Base):
    """One workshop, co-creation lab or learning-community meeting."""

    __tablename__ = "lab_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[SessionKind] = mapped_column(enum_column(SessionKind))
    status: Mapped[SessionStatus] = mapped_column(enum_column(SessionStatus), default=SessionStatus.draft)
    starts_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    ends_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    city: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8), default="en")
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    joining: Mapped[Joining] = mapped_column(
        enum_column(Joining), default=Joining.when_live, server_default=Joining.when_live.value
    )
    # Participants' notes wait for a facilitator's approval before the wall shows them.
    premoderation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    consent_text_version: Mapped[str] = mapped_column(String(32), default="2026-11")
    # The facilitator's summary for the record (a server default: older writers leave it out).
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The per-session event counter: bumped inside each change's transaction so seq stays gapless.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    current_activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL", use_alter=True)
    )
    timer_ends_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    timer_remaining_s: Mapped[int | None] = mapped_column(Integer)  # set while the timer is paused
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    community: Mapped[Community | None] = relationship(back_populates="sessions")
    activities: Mapped[list[Activity]] = relationship(
        back_populates="session",
        order_by="Activity.position",
        foreign_keys="Activity.session_id",
        cascade="all, delete-orphan",
    )
    facilitators: Mapped[list[SessionFacilitator]] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )


class SessionFacilitator(Base):
    __tablename__ = "session_facilitator"
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    session: Mapped[LabSession] = relationship(back_populates="facilitators")
    account: Mapped[Account] = relationship()


class Activity(Base):
    """One timed item on a session's agenda."""

    __tablename__ = "activity"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int] = mapped_column(Integer, default=10)
    type: Mapped[ActivityType] = mapped_column(enum_column(ActivityType), default=ActivityType.brainstorm)
    opened_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)

    session: Mapped[LabSession] = relationship(back_populates="activities", foreign_keys=[session_id])


# --- people --------------------------------------------------------------------------------


class Member(Base):
    """The same person across the sessions of one community."""

    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(60))
    organisation: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    sector: Mapped[Sector | None] = mapped_column(enum_column(Sector))
    # Set when a facilitator merged this member into another: old events still name this id.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    community: Mapped[Community] = relationship(back_populates="members")


class MemberDevice(Base):
    """A device a member joined from: the long-lived cookie of one community (only its SHA-256)."""

    __tablename__ = "member_device"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class Participant(Base):
    """A person in one session, joined from a device (or entered by a facilitator by proxy)."""

    __tablename__ = "participant"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    display_name: Mapped[str] = mapped_column(String(60))
    organisation: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    sector: Mapped[Sector | None] = mapped_column(enum_column(Sector))
    consent: Mapped[Consent] = mapped_column(enum_column(Consent))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    proxy: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    # Set when a facilitator removed them: their token stops working, the row stays for the record.
    removed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="participant", order_by="ConsentRecord.id", cascade="all, delete-orphan"
    )


class ConsentRecord(Base):
    """Every consent choice a participant made, with the version of the text they were shown."""

    __tablename__ = "consent_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    choice: Mapped[Consent] = mapped_column(enum_column(Consent))
    text_version: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="consents")


# --- cases ---------------------------------------------------------------------------------


# What full-text search reads of a case. PostgreSQL indexes this expression (GIN index
# ix_case_search); SQLite keeps the same columns in the FTS5 table case_search, written by the
# cases service. Neither can be modelled, so both are DDL here and in the migration.
CASE_SEARCH_PG = (
    "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || coalesce(city, '')"
    " || ' ' || coalesce(country, '') || ' ' || coalesce(organisation, '') || ' ' || coalesce(boosters, '')"
    " || ' ' || coalesce(barriers, '') || ' ' || coalesce(topics::text, ''))"
)
CASE_SEARCH_SQLITE = (
    "CREATE VIRTUAL TABLE case_search USING fts5(title, summary, place, organisation, boosters, barriers,"
    " topics, tokenize = 'unicode61 remove_diacritics 2')"
)
# The FTS5 table and the shadow tables SQLite makes for it: not models, but part of the schema.
SQLITE_SEARCH_TABLES = frozenset(
    {
        "case_search",
        "case_search_content",
        "case_search_data",
        "case_search_idx",
        "case_search_docsize",
        "case_search_config",
    }
)


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Alembic's include_name: autogenerate leaves the search table and index alone."""
    return not ((type_ == "table" and name in SQLITE_SEARCH_TABLES) or (type_ == "index" and name == "ix_case_search"))


class Case(Base):
    """An urban project or initiative that someone shares."""

    __tablename__ = "case"
    __table_args__ = (Index("ix_case_status_created_at", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    sdgs: Mapped[list[int]] = mapped_column(JsonB, default=list)
    topics: Mapped[list[str]] = mapped_column(JsonB, default=list)
    stage: Mapped[CaseStage] = mapped_column(enum_column(CaseStage), default=CaseStage.idea)
    boosters: Mapped[str] = mapped_column(Text, default="")
    barriers: Mapped[str] = mapped_column(Text, default="")
    organisation: Mapped[str | None] = mapped_column(String(200))
    links: Mapped[list[str]] = mapped_column(JsonB, default=list)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), default=CaseStatus.published)
    # An adopted practice becomes a new case, derived from the case it learned from.
    derived_from_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"), index=True)
    from_outcome_id: Mapped[int | None] = mapped_column(ForeignKey("outcome.id", ondelete="SET NULL", use_alter=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)


# create_all (the tests' PostgreSQL template, fresh SQLite files) builds the search table as the
# migration does.
event.listen(Case.__table__, "after_create", DDL(CASE_SEARCH_SQLITE).execute_if(dialect="sqlite"))
event.listen(
    Case.__table__,
    "after_create",
    DDL(f'CREATE INDEX ix_case_search ON "case" USING gin ({CASE_SEARCH_PG})').execute_if(dialect="postgresql"),
)
event.listen(Case.__table__, "before_drop", DDL("DROP TABLE IF EXISTS case_search").execute_if(dialect="sqlite"))


class CaseSubmission(Base):
    """Who sent a project through "Share a project" and how its review went. The case itself waits
    as status "submitted". The email is for the reviewers only: never shown publicly."""

    __tablename__ = "case_submission"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="en")
    submitted_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was rejected, for the record

    case: Mapped[Case] = relationship()


class CaseShare(Base):
    """A case presented in a session."""

    __tablename__ = "case_share"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    presenter: Mapped[str | None] = mapped_column(String(120))
    shared_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    case: Mapped[Case] = relationship()


# --- notes, clusters, votes ----------------------------------------------------------------


class Cluster(Base):
    __tablename__ = "cluster"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class Note(Base):
    __tablename__ = "note"
    __table_args__ = (UniqueConstraint("session_id", "client_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participant.id", ondelete="SET NULL"), index=True)
    # Set when a facilitator entered the note (by proxy for a participant, or as themself).
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[NoteKind] = mapped_column(enum_column(NoteKind), default=NoteKind.idea)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id", ondelete="SET NULL"), index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    approval: Mapped[NoteApproval] = mapped_column(
        enum_column(NoteApproval), default=NoteApproval.approved, server_default=NoteApproval.approved.value
    )
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)

    participant: Mapped[Participant | None] = relationship()


class VoteRound(Base):
    """A dot-voting round: N votes per participant, results hidden until revealed."""

    __tablename__ = "vote_round"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    votes_per_participant: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[VoteRoundStatus] = mapped_column(enum_column(VoteRoundStatus), default=VoteRoundStatus.open)
    opened_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    revealed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)


class Vote(Base):
    __tablename__ = "vote"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("vote_round.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- outcomes and follow-ups ---------------------------------------------------------------


class Outcome(Base):
    """What a session led to, recorded the outcome-harvesting way."""

    __tablename__ = "outcome"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lab_session.id", ondelete="SET NULL"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"))
    # An action of a living lab's experiment: its owner answers the check-in on its due date.
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"), index=True)
    kind: Mapped[OutcomeKind] = mapped_column(enum_column(OutcomeKind))
    title: Mapped[str] = mapped_column(String(200))
    what_changed: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(200), default="")  # the social actor that changed
    change_agent: Mapped[str] = mapped_column(String(200), default="")  # who influenced that change
    when_on: Mapped[date | None] = mapped_column(Date)
    where: Mapped[str | None] = mapped_column(String(120))  # city
    significance: Mapped[str] = mapped_column(Text, default="")
    contribution: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    # Substantiation: who confirmed the evidence, and when.
    verified_by: Mapped[str] = mapped_column(String(200), default="")
    verified_on: Mapped[date | None] = mapped_column(Date)
    # A commitment or action has an owner (who answers the check-ins) and a due date.
    owner_name: Mapped[str] = mapped_column(String(120), default="")
    owner_email: Mapped[str | None] = mapped_column(String(254))
    due_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class OutcomeSource(Base):
    """Traceability: which notes, clusters and cases an outcome came from."""

    __tablename__ = "outcome_source"
    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))


class FollowUp(Base):
    """A check-in on an outcome weeks later, answered by its owner through a private link: was it
    carried out, adopted elsewhere, adapted, scaled, stopped?"""

    __tablename__ = "follow_up"
    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[FollowUpStatus] = mapped_column(enum_column(FollowUpStatus), default=FollowUpStatus.planned)
    # The private link's token is derived from this nonce and the secret key; only its SHA-256 is
    # looked up, so neither a copy of the database nor the nonce alone opens the form.
    token_nonce: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    # The latest answer (earlier ones stay in the outcome's event log).
    progress: Mapped[Progress | None] = mapped_column(enum_column(Progress))
    findings: Mapped[str] = mapped_column(Text, default="")  # what was done
    evidence: Mapped[str] = mapped_column(Text, default="")
    adopting_city: Mapped[str | None] = mapped_column(String(120))
    adaptations: Mapped[str] = mapped_column(Text, default="")  # what was changed to fit there
    answers: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)  # when it was last answered
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- polls and scales ----------------------------------------------------------------------


class PollKind(enum.StrEnum):
    single = "single"
    multiple = "multiple"
    scale = "scale"
    number = "number"


class PollStatus(enum.StrEnum):
    ready = "ready"
    open = "open"
    closed = "closed"
    revealed = "revealed"


class Poll(Base):
    """The question of a poll, scale or number activity; answers stay hidden until revealed."""

    __tablename__ = "poll"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[PollKind] = mapped_column(enum_column(PollKind))
    question: Mapped[str] = mapped_column(String(500))
    options: Mapped[list[str]] = mapped_column(JsonB, default=list)  # single and multiple choice
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    min_label: Mapped[str] = mapped_column(String(60), default="")
    max_label: Mapped[str] = mapped_column(String(60), default="")
    number_min: Mapped[float | None] = mapped_column(Float)
    number_max: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[PollStatus] = mapped_column(enum_column(PollStatus), default=PollStatus.ready)
    opened_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    revealed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class PollAnswer(Base):
    """A participant's one answer to a poll (replaced when they change it while it is open)."""

    __tablename__ = "poll_answer"
    __table_args__ = (UniqueConstraint("poll_id", "participant_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    # The client id of the answer as it stands: a resend of it is recognised and changes nothing.
    client_id: Mapped[str] = mapped_column(String(64))
    choices: Mapped[list[int]] = mapped_column(JsonB, default=list)  # option indexes (single, multiple)
    number: Mapped[float | None] = mapped_column(Float)  # the scale point or the number given
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- privacy -------------------------------------------------------------------------------


class Erasure(Base):
    """One erasure in the deletion log: ids and times only, never who the person was. The same
    entries are appended to a file outside the database (LABS_DELETION_LOG), so that after an
    older backup is restored `labs privacy reapply` erases them again."""

    __tablename__ = "erasure"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(36), unique=True)  # the same entry's key in the file
    # The erased participant rows as [{"id", "session_id", "joined_at"}]: enough to find the same
    # rows in a restored backup, and to never match someone who joined later under a reused id.
    participants: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    member_ids: Mapped[list[int]] = mapped_column(JsonB, default=list)
    community_id: Mapped[int | None] = mapped_column(Integer)  # no key: the community may go, the log stays
    mode: Mapped[ErasureMode] = mapped_column(enum_column(ErasureMode))
    notes: Mapped[int] = mapped_column(Integer, default=0)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- research: qualitative coding ----------------------------------------------------------


class Code(Base):
    """One code of the codebook (shared by the researchers of this installation); codes nest."""

    __tablename__ = "code"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("code.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7), default="#4e79a7")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class Coding(Base):
    """A code applied by one researcher to a whole note (no positions) or to a span of its text:
    [start, end) in characters (code points) of the note's body, as REFI-QDA counts them."""

    __tablename__ = "coding"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("code.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class Memo(Base):
    """A researcher's own analytic memo on a note, a code or a session (exactly one of them)."""

    __tablename__ = "memo"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("code.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


# --- living labs: Theory of Change, indicators, experiments --------------------------------


class TocKind(enum.StrEnum):
    # The chain that "leads to" links connect, in order:
    activity = "activity"
    output = "output"
    short_term = "short_term"
    medium_term = "medium_term"
    long_term = "long_term"
    impact = "impact"
    # Around the chain, each optionally about one node of it:
    actor = "actor"
    booster = "booster"
    barrier = "barrier"
    assumption = "assumption"


class TocNode(Base):
    """One element of a living lab's Theory of Change: a step of the chain, an actor, a context
    factor (booster or barrier) or an assumption."""

    __tablename__ = "toc_node"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TocKind] = mapped_column(enum_column(TocKind))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    about_id: Mapped[int | None] = mapped_column(ForeignKey("toc_node.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class TocLink(Base):
    """`from_id` leads to `to_id`; the links of a Theory of Change never form a cycle."""

    __tablename__ = "toc_link"
    __table_args__ = (UniqueConstraint("from_id", "to_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("toc_node.id", ondelete="CASCADE"))
    to_id: Mapped[int] = mapped_column(ForeignKey("toc_node.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class TocNodeOutcome(Base):
    """A recorded outcome (after a session) attached to a node of the Theory of Change."""

    __tablename__ = "toc_node_outcome"
    node_id: Mapped[int] = mapped_column(ForeignKey("toc_node.id", ondelete="CASCADE"), primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome.id", ondelete="CASCADE"), primary_key=True, index=True)


class Direction(enum.StrEnum):
    # Member names avoid str's own methods (str.lower, str.count).
    higher_is_better = "higher"
    lower_is_better = "lower"


class DataSource(enum.StrEnum):
    survey = "survey"
    counted = "count"
    observation = "observation"
    municipal_data = "municipal_data"
    open_data = "open_data"


class Wave(enum.StrEnum):
    baseline = "baseline"
    interim = "interim"
    endline = "endline"


class Indicator(Base):
    """What an outcome node is measured by, from its baseline towards its target."""

    __tablename__ = "indicator"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("toc_node.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    source: Mapped[DataSource] = mapped_column(enum_column(DataSource))
    baseline: Mapped[float] = mapped_column(Float)
    baseline_on: Mapped[date] = mapped_column(Date)
    target: Mapped[float] = mapped_column(Float)
    target_on: Mapped[date] = mapped_column(Date)
    # The declared range of possible values (a 1-5 score, a percentage); None: unbounded.
    range_min: Mapped[float | None] = mapped_column(Float)
    range_max: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class Measurement(Base):
    """One value of an indicator: entered, imported from CSV or taken from a live poll's result."""

    __tablename__ = "measurement"
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"), index=True)
    value: Mapped[float] = mapped_column(Float)
    measured_on: Mapped[date] = mapped_column(Date)
    wave: Mapped[Wave | None] = mapped_column(enum_column(Wave))
    note: Mapped[str] = mapped_column(String(500), default="")
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lab_session.id", ondelete="SET NULL"))
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("poll.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)


class ExperimentStatus(enum.StrEnum):
    planned = "planned"
    running = "running"
    finished = "finished"


class ExperimentResult(enum.StrEnum):
    worked = "worked"
    partly = "partly"
    did_not_work = "did_not_work"
    inconclusive = "inconclusive"


class Experiment(Base):
    """Something a living lab tries, with its hypothesis and, once finished, its evaluation in the
    shape of the lab's protocol."""

    __tablename__ = "experiment"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    hypothesis: Mapped[str] = mapped_column(Text)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("toc_link.id", ondelete="SET NULL"))
    topics: Mapped[list[str]] = mapped_column(JsonB, default=list)
    sdgs: Mapped[list[int]] = mapped_column(JsonB, default=list)
    status: Mapped[ExperimentStatus] = mapped_column(enum_column(ExperimentStatus), default=ExperimentStatus.planned)
    result: Mapped[ExperimentResult | None] = mapped_column(enum_column(ExperimentResult))
    tried: Mapped[str] = mapped_column(Text, default="")
    worked: Mapped[str] = mapped_column(Text, default="")
    did_not_work: Mapped[str] = mapped_column(Text, default="")
    for_whom: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text, default="")
    why: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)


class ExperimentSession(Base):
    """A session that belongs to an experiment."""

    __tablename__ = "experiment_session"
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"), primary_key=True)


# --- the event log -------------------------------------------------------------------------


class EventStream(Base):
    """The counter of a stream that is not a session (a case's, an outcome's, a community's): bumped
    inside each change's transaction, like a session's last_seq, so its seq stays gapless."""

    __tablename__ = "event_stream"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """One row per change, numbered per stream (a session's, a case's, an outcome's, a community's):
    live updates, resume, replay and the research trace. Session events also keep session_id."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        UniqueConstraint("stream", "stream_id", "seq"),
        Index("ix_event_type", "type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(16), default="session")
    stream_id: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lab_session.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    actor_kind: Mapped[ActorKind] = mapped_column(enum_column(ActorKind))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTimeUTC, default=utcnow)
