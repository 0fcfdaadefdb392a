"""Who may see which research material: researchers see only the sessions and communities an
admin or the session's facilitator granted them; admins see everything; a facilitator sees the
research views of the sessions they run. Everything else is 404, so ids don't leak.

Every research page and download asks `check` (one session, community or case) or `scope_of`
(which sessions a list, chart or export may draw from); nothing else decides it.

Giving and revoking a grant are changes with an event: on the session's stream for a session
grant, on the community's for a community grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, paging, validate
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Case,
    CaseShare,
    Community,
    LabSession,
    Outcome,
    Participant,
    ResearchGrant,
    Role,
    SessionFacilitator,
)
from labs.runtime import Runtime
from labs.services.sessions import can_run

# --- reading access ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one account may see of the research material."""

    everything: bool = False
    sessions: frozenset[int] = frozenset()
    communities: frozenset[int] = frozenset()

    def has_session(self, session_id: int | None) -> bool:
        return self.everything or (session_id is not None and session_id in self.sessions)

    def has_community(self, community_id: int | None) -> bool:
        return self.everything or (community_id is not None and community_id in self.communities)

    def session_filter(self, column: Any) -> Any:
        """A WHERE clause keeping rows whose session column is in scope."""
        return column.is_not(None) if self.everything else column.in_(self.sessions)


NOTHING = Scope()


async def scope_of(db: AsyncSession, account: Account | None) -> Scope:
    """Admins: everything. Researchers: granted sessions, granted communities and every session in
    those. Facilitators: the sessions they run. Anyone else: nothing."""
    if account is None or not account.active:
        return NOTHING
    if account.role is Role.admin:
        return Scope(everything=True)
    if account.role is Role.facilitator:
        runs = select(SessionFacilitator.session_id).where(SessionFacilitator.account_id == account.id)
        return Scope(sessions=frozenset((await db.scalars(runs)).all()))
    if account.role is not Role.researcher:
        return NOTHING
    rows = (
        await db.execute(
            select(ResearchGrant.session_id, ResearchGrant.community_id).where(ResearchGrant.account_id == account.id)
        )
    ).all()
    communities = frozenset(c for _, c in rows if c is not None)
    sessions = {s for s, _ in rows if s is not None}
    if communities:
        sessions |= set((await db.scalars(select(LabSession.id).where(LabSession.community_id.in_(communities)))).all())
    return Scope(sessions=frozenset(sessions), communities=communities)


async def case_ids_in(db: AsyncSession, scope: Scope) -> set[int]:
    """Cases a scope reaches: shared in one of its sessions, or derived from an outcome of one."""
    if scope.everything:
        return set((await db.scalars(select(Case.id))).all())
    shared = await db.scalars(select(CaseShare.case_id).where(CaseShare.session_id.in_(scope.sessions)))
    derived = await db.scalars(
        select(Case.id).join(Outcome, Case.from_outcome_id == Outcome.id).where(Outcome.session_id.in_(scope.sessions))
    )
    return set(shared.all()) | set(derived.all())


async def check(
    db: AsyncSession,
    account: Account | None,
    *,
    session_id: int | None = None,
    community_id: int | None = None,
    case_id: int | None = None,
    participant_id: int | None = None,
) -> Scope:
    """The gate of every research page and download about one session, community, case or
    participant: the account's scope when it reaches that thing; NotFound (404, the same as for an
    unknown id) otherwise."""
    scope = await scope_of(db, account)
    if participant_id is not None:
        person = await db.get(Participant, participant_id)
        if person is None or not scope.has_session(person.session_id):
            raise NotFound("No such participant.")
    if session_id is not None and (not scope.has_session(session_id) or await db.get(LabSession, session_id) is None):
        raise NotFound("No such session.")
    if community_id is not None and (
        not scope.has_community(community_id) or await db.get(Community, community_id) is None
    ):
        raise NotFound("No such community.")
    if case_id is not None and (
        await db.get(Case, case_id) is None or not (scope.everything or case_id in await case_ids_in(db, scope))
    ):
        raise NotFound("No such case.")
    return scope


async def gate(rt: Runtime, account: Account | None, **what: int | None) -> Scope:
    """`check` in a read of its own, for route handlers."""
    async with rt.db.read() as db:
        return await check(db, account, **what)


# --- giving and revoking -------------------------------------------------------------------


async def _may_grant(db: AsyncSession, account: Account, session_id: int | None, community_id: int | None) -> None:
    """Admins grant anything; a facilitator grants on the sessions they run (another's session:
    404). A whole community is an admin's to grant: facilitators see communities, so they are
    told why (403)."""
    if account.role is Role.admin:
        return
    if community_id is not None:
        raise Forbidden(
            "Only an admin can grant access to a whole community; grant one of your sessions instead.",
            {"target": "Only an admin can grant a whole community."},
        )
    if session_id is not None and account.role is Role.facilitator and await can_run(db, session_id, account):
        return
    raise NotFound("No such session.")


def _target(session_id: Any, community_id: Any) -> tuple[int | None, int | None]:
    session = validate.integer(session_id, "session_id") if session_id not in (None, "") else None
    community = validate.integer(community_id, "community_id") if community_id not in (None, "") else None
    if (session is None) == (community is None):
        raise Invalid(
            "Grant access to one session or to one community.",
            {"target": "Choose one session or one community."},
        )
    return session, community


async def grant(
    rt: Runtime, account: Account, email: Any, *, session_id: Any = None, community_id: Any = None
) -> ResearchGrant:
    """Give the researcher with `email` access to one session or one community."""
    address = validate.text(email, "email", N_("The researcher's email"), 254, required=True).lower()
    session, community = _target(session_id, community_id)
    async with events.change(rt) as tx:
        if session is not None and await tx.db.get(LabSession, session) is None:
            raise NotFound("No such session.")
        if community is not None and await tx.db.get(Community, community) is None:
            raise NotFound("No such community.")
        await _may_grant(tx.db, account, session, community)
        researcher = await tx.db.scalar(select(Account).where(Account.email == address))
        if researcher is None or not researcher.active:
            raise Invalid(
                "There is no active account with that email.", {"email": "No active account with this email."}
            )
        if researcher.role is not Role.researcher:
            raise Invalid(
                "%(email)s is not a researcher account; only researchers are granted access.",
                {"email": "Only researcher accounts can be granted access."},
                email=researcher.email,
            )
        existing = await tx.db.scalar(
            select(ResearchGrant.id).where(
                ResearchGrant.account_id == researcher.id,
                ResearchGrant.session_id == session if session is not None else ResearchGrant.community_id == community,
            )
        )
        if existing is not None:
            raise Conflict("%(email)s already has this access.", {"email": "Already granted."}, email=researcher.email)
        row = ResearchGrant(
            account_id=researcher.id, session_id=session, community_id=community, granted_by_id=account.id
        )
        tx.db.add(row)
        await tx.db.flush()
        await _emit(tx, row, True, account)
    return row


async def revoke(rt: Runtime, account: Account, grant_id: Any) -> ResearchGrant:
    async with events.change(rt) as tx:
        row = await tx.db.get(ResearchGrant, validate.integer(grant_id, "grant_id"))
        if row is None:
            raise NotFound("No such grant.")
        try:
            await _may_grant(tx.db, account, row.session_id, row.community_id)
        except (NotFound, Forbidden):
            # Not one they could have given (nor list): the same as no grant at all.
            raise NotFound("No such grant.") from None
        await tx.db.delete(row)
        await _emit(tx, row, False, account)
    return row


async def _emit(tx: events.Change, row: ResearchGrant, granted: bool, by: Account) -> None:
    if row.session_id is not None:
        payload: catalogue.Payload = (catalogue.ResearchGranted if granted else catalogue.ResearchRevoked)(
            grant_id=row.id, account_id=row.account_id, session_id=row.session_id
        )
        stream = Stream.session(row.session_id)
    else:
        assert row.community_id is not None
        kind = catalogue.CommunityResearchGranted if granted else catalogue.CommunityResearchRevoked
        payload = kind(grant_id=row.id, account_id=row.account_id, community_id=row.community_id)
        stream = Stream.community(row.community_id)
    await tx.emit(stream, payload, Actor.account(by.id))


# --- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    id: int
    researcher: str
    email: str
    session_id: int | None
    session_title: str | None
    community_id: int | None
    community_name: str | None
    granted_by: str | None
    granted_at: Any


async def list_grants(
    rt: Runtime, account: Account, *, session_id: int | None = None, page: Any = 1
) -> paging.Page[GrantRow]:
    """The grants `account` may revoke (admins: all; facilitators: those on their sessions),
    newest first; `session_id` narrows to one session's."""
    from sqlalchemy.orm import aliased

    researcher, giver = aliased(Account), aliased(Account)
    query = (
        select(
            ResearchGrant.id,
            researcher.display_name,
            researcher.email,
            ResearchGrant.session_id,
            LabSession.title,
            ResearchGrant.community_id,
            Community.name,
            giver.display_name,
            ResearchGrant.granted_at,
        )
        .join(researcher, researcher.id == ResearchGrant.account_id)
        .outerjoin(giver, giver.id == ResearchGrant.granted_by_id)
        .outerjoin(LabSession, LabSession.id == ResearchGrant.session_id)
        .outerjoin(Community, Community.id == ResearchGrant.community_id)
        .order_by(ResearchGrant.granted_at.desc(), ResearchGrant.id.desc())
    )
    if session_id is not None:
        query = query.where(ResearchGrant.session_id == session_id)
    async with rt.db.read() as db:
        if account.role is not Role.admin:
            runs = select(SessionFacilitator.session_id).where(SessionFacilitator.account_id == account.id)
            query = query.where(ResearchGrant.session_id.in_(runs))
        found = await paging.fetch(db, query, page)
    return paging.Page(
        items=[GrantRow(*row) for row in found.items], number=found.number, size=found.size, total=found.total
    )


async def grantable(rt: Runtime, account: Account) -> tuple[list[LabSession], list[Community]]:
    """The sessions and communities `account` may grant access to (for the form's choices)."""
    async with rt.db.read() as db:
        sessions = select(LabSession).order_by(LabSession.starts_at.desc().nulls_last(), LabSession.id.desc())
        if account.role is not Role.admin:
            sessions = sessions.join(SessionFacilitator, SessionFacilitator.session_id == LabSession.id).where(
                SessionFacilitator.account_id == account.id
            )
        communities: list[Community] = []
        if account.role is Role.admin:
            communities = list((await db.scalars(select(Community).order_by(Community.name))).all())
        return list((await db.scalars(sessions)).all()), communities


async def researchers(rt: Runtime) -> list[Account]:
    """Active researcher accounts, for the grant form's suggestions."""
    async with rt.db.read() as db:
        query = select(Account).where(Account.role == Role.researcher, Account.active.is_(True))
        return list((await db.scalars(query.order_by(Account.display_name))).all())
