"""The JSON API (/api/v1) for communities and their members, and for privacy requests:
withdrawing consent (participants), erasure and the deletion log (admins). Bearer tokens only,
as in labs.web.api; lists come a page at a time with their paging fields."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Router, get, post, put

from labs.errors import NotFound
from labs.events import Stream
from labs.models import Account, Erasure
from labs.paging import Page
from labs.runtime import Runtime
from labs.services import cases, communities, members, participants, privacy, sessions
from labs.web import api, auth
from labs.web.auth import Identity


class CommunityIn(msgspec.Struct):
    name: str
    kind: str = "learning_community"
    description: str = ""
    city: str | None = None
    started_on: str | None = None
    erasure_mode: str = "unlink"


class SessionRef(msgspec.Struct):
    session_id: int


class MergeIn(msgspec.Struct):
    keep_id: int
    merge_id: int


class LinkIn(msgspec.Struct):
    participant_id: int
    member_id: int


class UnlinkIn(msgspec.Struct):
    participant_id: int


def _me(identity: Identity) -> Account:
    assert identity.account
    return identity.account


def _page(found: Page[Any], items: list[Any]) -> dict[str, Any]:
    return {"items": items, **found.meta()}


# --- communities ---------------------------------------------------------------------------


@get("/communities", guards=[auth.facilitator], summary="Communities the caller runs (admins: all)")
async def list_communities(rt: Runtime, identity: Identity, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    found = await communities.list_for(rt, _me(identity), page, per_page)
    return _page(found, [communities.community_data(c) for c in found.items])


@post("/communities", guards=[auth.facilitator], status_code=201, summary="Create a community")
async def create_community(rt: Runtime, identity: Identity, data: CommunityIn) -> dict[str, Any]:
    return communities.community_data(await communities.create(rt, _me(identity), msgspec.to_builtins(data)))


@get("/communities/{community_id:int}", guards=[auth.facilitator], summary="A community with its numbers")
async def get_community(rt: Runtime, identity: Identity, community_id: int) -> dict[str, Any]:
    community = await communities.get_for(rt, community_id, _me(identity))
    return {**communities.community_data(community), **await communities.summary(rt, community_id)}


@put("/communities/{community_id:int}", guards=[auth.facilitator], summary="Edit a community")
async def update_community(rt: Runtime, identity: Identity, community_id: int, data: CommunityIn) -> dict[str, Any]:
    community = await communities.update(rt, _me(identity), community_id, msgspec.to_builtins(data))
    return communities.community_data(community)


@get("/communities/{community_id:int}/sessions", guards=[auth.facilitator], summary="The timeline of sessions")
async def community_sessions(
    rt: Runtime, identity: Identity, community_id: int, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    found = await communities.timeline(rt, community_id, page, per_page)
    return _page(
        found,
        [
            {
                "session_id": r.session.id,
                "title": r.session.title,
                "status": r.session.status.value,
                "starts_at": r.session.starts_at.isoformat() if r.session.starts_at else None,
                "city": r.session.city,
                "participants": r.participants,
                "returning": r.returning,
                "notes": r.notes,
            }
            for r in found.items
        ],
    )


@post("/communities/{community_id:int}/sessions", guards=[auth.facilitator], summary="Put a session in")
async def add_session(rt: Runtime, identity: Identity, community_id: int, data: SessionRef) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    return sessions.session_data(await sessions.set_community(rt, _me(identity), data.session_id, community_id))


@post(
    "/communities/{community_id:int}/sessions/{session_id:int}/remove",
    guards=[auth.facilitator],
    status_code=200,
    summary="Take a session out",
)
async def remove_session(rt: Runtime, identity: Identity, community_id: int, session_id: int) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    session = await sessions.set_community(rt, _me(identity), session_id, None, leaving=community_id)
    return sessions.session_data(session)


@get("/communities/{community_id:int}/cases", guards=[auth.facilitator], summary="Cases shared in its sessions")
async def community_cases(
    rt: Runtime, identity: Identity, community_id: int, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    found = await communities.shared_cases(rt, community_id, page, per_page)
    return _page(found, [cases.share_data(share, case) for share, case, _session in found.items])


@get("/communities/{community_id:int}/outcomes", guards=[auth.facilitator], summary="Outcomes and follow-ups")
async def community_outcomes(
    rt: Runtime, identity: Identity, community_id: int, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    found = await communities.outcomes(rt, community_id, page, per_page)
    return _page(
        found,
        [
            {
                "outcome_id": r.outcome.id,
                "session_id": r.outcome.session_id,
                "title": r.outcome.title,
                "kind": r.outcome.kind.value,
                "where": r.outcome.where,
                "follow_ups": r.follow_ups,
                "answered": r.answered,
                "overdue": r.overdue,
                "next_due": r.next_due.isoformat() if r.next_due else None,
            }
            for r in found.items
        ],
    )


@get(
    "/communities/{community_id:int}/events",
    guards=[auth.facilitator],
    summary="The community's event stream (an alias of /streams/community/{id}/events)",
)
async def community_events(
    rt: Runtime, identity: Identity, community_id: int, after: int = 0, limit: int = 1000
) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    return await api.stream_events(rt, Stream.community(community_id), after, limit)


# --- members -------------------------------------------------------------------------------


@get("/communities/{community_id:int}/members", guards=[auth.facilitator], summary="Members, most sessions first")
async def list_members(
    rt: Runtime, identity: Identity, community_id: int, page: int = 1, per_page: int = 50, returning: bool = False
) -> dict[str, Any]:
    await communities.get_for(rt, community_id, _me(identity))
    found = await communities.members(rt, community_id, page, returning=returning, per_page=per_page)
    seen = await members.appearances(rt, [r.member.id for r in found.items])
    return _page(
        found,
        [
            {
                **members.member_data(r.member, r.sessions),
                "participants": [{"participant_id": p.id, "session_id": s.id} for p, s in seen[r.member.id]],
            }
            for r in found.items
        ],
    )


@post("/communities/{community_id:int}/members/merge", guards=[auth.facilitator], status_code=200)
async def merge_members(rt: Runtime, identity: Identity, community_id: int, data: MergeIn) -> dict[str, Any]:
    """Two members are one person: the second's sessions and devices move to the first."""
    return members.member_data(await members.merge(rt, _me(identity), community_id, data.keep_id, data.merge_id))


@post("/communities/{community_id:int}/members/link", guards=[auth.facilitator], status_code=200)
async def link_member(rt: Runtime, identity: Identity, community_id: int, data: LinkIn) -> dict[str, Any]:
    """A participant is this existing member (they came without their usual device)."""
    member = await members.link(rt, _me(identity), community_id, data.participant_id, data.member_id)
    return members.member_data(member)


@post("/communities/{community_id:int}/members/unlink", guards=[auth.facilitator], status_code=200)
async def unlink_member(rt: Runtime, identity: Identity, community_id: int, data: UnlinkIn) -> dict[str, Any]:
    """A participant was someone else: they become a member of their own (the answer)."""
    return members.member_data(await members.unlink(rt, _me(identity), community_id, data.participant_id))


# --- privacy requests ----------------------------------------------------------------------


def erasure_data(e: Erasure) -> dict[str, Any]:
    return {"id": e.id, **privacy.erasure_data(e)}


@post(
    "/sessions/{session_id:int}/consent/withdraw",
    guards=[auth.require_participant],
    status_code=200,
    summary="Withdraw my consent (here and in my other sessions of the community)",
)
async def withdraw(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    me = identity.participant
    if me is None or me.session_id != session_id:
        raise NotFound("No such session.")
    changed = await privacy.withdraw(rt, me)
    covered = await privacy.sessions_of_person(rt, me)
    return {
        "consent": "none",
        "changed": [participants.participant_data(p) for p in changed],
        "sessions": [s.id for s in covered],
    }


@post("/participants/{participant_id:int}/erase", guards=[auth.admin], status_code=200, summary="Erase a person")
async def erase(rt: Runtime, identity: Identity, participant_id: int) -> dict[str, Any]:
    return erasure_data(await privacy.erase(rt, _me(identity), participant_id))


@get("/erasures", guards=[auth.admin], summary="The deletion log (ids and times only)")
async def list_erasures(rt: Runtime, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    found = await privacy.deletion_log(rt, page, per_page)
    return _page(found, [erasure_data(e) for e in found.items])


routes = [
    Router(
        path="/api/v1",
        route_handlers=[
            list_communities,
            create_community,
            get_community,
            update_community,
            community_sessions,
            add_session,
            remove_session,
            community_cases,
            community_outcomes,
            community_events,
            list_members,
            merge_members,
            link_member,
            unlink_member,
            withdraw,
            erase,
            list_erasures,
        ],
    )
]
