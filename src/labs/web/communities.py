"""Community pages: the list, create and edit, the community's page (timeline of sessions, cases
shared, outcomes and their follow-ups, members who came back) and its members (merge, link,
unlink). Handlers parse, call one service function and render; the service decides."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs.errors import Invalid, LabsError
from labs.i18n import N_
from labs.models import Account, CommunityKind, ErasureMode, Role
from labs.runtime import Runtime
from labs.services import communities, members, sessions
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.render import failed, page

Req = Request[Any, Any, State]
KINDS = [k.value for k in CommunityKind]
# What the members page says after a change (PRG: the redirect carries only the action's name).
DONE = {
    "merge": N_("The two members are one now."),
    "link": N_("The participant is linked to that member."),
    "unlink": N_("The participant is a member of their own now."),
}
ERASURE_MODES = [m.value for m in ErasureMode]


def _me(identity: Identity) -> Account:
    assert identity.account
    return identity.account


@get("/communities", guards=[auth.facilitator])
async def community_list(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    found = await communities.list_for(rt, _me(identity), request.query_params.get("page"))
    return page(request, "communities/list.html", communities=found)


def _form(request: Req, community: Any = None, **extra: Any) -> Response[Any]:
    return page(
        request,
        "communities/form.html",
        community=community,
        kinds=KINDS,
        erasure_modes=ERASURE_MODES,
        form=extra.pop("form", None) or (communities.community_data(community) if community else {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/communities/new", guards=[auth.facilitator])
async def community_new(request: Req) -> Response[Any]:
    return _form(request)


@post("/communities/new", guards=[auth.facilitator])
async def community_create(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    data = await form_data(request)
    try:
        community = await communities.create(rt, _me(identity), data)
    except LabsError as e:
        return _form(request, **failed(e, data))
    return Redirect(f"/communities/{community.id}")


@get("/communities/{community_id:int}/edit", guards=[auth.facilitator])
async def community_edit(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    return _form(request, await communities.get_for(rt, community_id, _me(identity)))


@post("/communities/{community_id:int}/edit", guards=[auth.facilitator])
async def community_update(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    data = await form_data(request)
    community = await communities.get_for(rt, community_id, _me(identity))
    try:
        await communities.update(rt, _me(identity), community_id, data)
    except LabsError as e:
        return _form(request, community, **failed(e, data))
    return Redirect(f"/communities/{community_id}")


async def _community_page(
    request: Req, rt: Runtime, identity: Identity, community_id: int, **extra: Any
) -> Response[Any]:
    """The whole page, or one of its sections (`block`) when htmx asks for another page of it."""
    me = _me(identity)
    community = await communities.get_for(rt, community_id, me)
    q = request.query_params
    mine = [s for s in await sessions.list_for(rt, me) if s.community_id != community_id]
    return page(
        request,
        "communities/page.html",
        block=extra.pop("block", None) or q.get("part"),
        community=community,
        base=f"/communities/{community_id}",
        summary=await communities.summary(rt, community_id),
        timeline=await communities.timeline(rt, community_id, q.get("sessions_page")),
        shared=await communities.shared_cases(rt, community_id, q.get("cases_page")),
        outcomes=await communities.outcomes(rt, community_id, q.get("outcomes_page")),
        returning=await communities.members(rt, community_id, q.get("members_page"), returning=True),
        movable=mine,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/communities/{community_id:int}", guards=[auth.facilitator])
async def community_page(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    return await _community_page(request, rt, identity, community_id)


@post("/communities/{community_id:int}/sessions", guards=[auth.facilitator])
async def session_move(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    """Put one of the facilitator's sessions in this community, or (action=remove) take it out."""
    data = await form_data(request)
    me = _me(identity)
    try:
        await communities.get_for(rt, community_id, me)
        if data.get("action") == "remove":
            await sessions.set_community(rt, me, data.get("session_id"), None, leaving=community_id)
        else:
            await sessions.set_community(rt, me, data.get("session_id"), community_id)
    except LabsError as e:
        return await _community_page(request, rt, identity, community_id, **failed(e, data))
    return Redirect(f"/communities/{community_id}#timeline")


# --- members -------------------------------------------------------------------------------


async def _members_page(
    request: Req, rt: Runtime, identity: Identity, community_id: int, **extra: Any
) -> Response[Any]:
    me = _me(identity)
    community = await communities.get_for(rt, community_id, me)
    found = await communities.members(rt, community_id, request.query_params.get("page"))
    if (done := DONE.get(request.query_params.get("done", ""))) and "messages" not in extra:
        extra["messages"] = [("success", done)]
    return page(
        request,
        "communities/members.html",
        community=community,
        members=found,
        appearances=await members.appearances(rt, [row.member.id for row in found.items]),
        can_erase=me.role is Role.admin,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/communities/{community_id:int}/members", guards=[auth.facilitator])
async def member_list(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    return await _members_page(request, rt, identity, community_id)


@post("/communities/{community_id:int}/members", guards=[auth.facilitator])
async def member_change(request: Req, rt: Runtime, identity: Identity, community_id: int) -> Response[Any]:
    """Merge two members, link a participant to a member, or unlink one (field `action`)."""
    data = await form_data(request)
    me, action = _me(identity), data.get("action")
    try:
        if action == "merge":
            await members.merge(rt, me, community_id, data.get("keep_id"), data.get("merge_id"))
        elif action == "link":
            await members.link(rt, me, community_id, data.get("participant_id"), data.get("member_id"))
        elif action == "unlink":
            await members.unlink(rt, me, community_id, data.get("participant_id"))
        else:
            raise Invalid("Unknown member action %(action)r; allowed: merge, link, unlink.", action=action)
    except LabsError as e:
        return await _members_page(request, rt, identity, community_id, **failed(e, data))
    return Redirect(f"/communities/{community_id}/members?done={action}")


routes = [
    community_list,
    community_new,
    community_create,
    community_edit,
    community_update,
    community_page,
    session_move,
    member_list,
    member_change,
]
