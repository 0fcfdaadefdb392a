"""The JSON API after the session (/api/v1): a session's record and summary, outcomes, their
check-ins, the follow-up list with private links, the owner's answer by token (no account), and
the derived case an adoption becomes. Same rules as labs.web.api: bearer tokens, 404 for what is
not yours, {"detail", "errors"} for bad input."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post, put
from litestar.datastructures import State
from litestar.params import QueryParameter

from labs.models import Account, Role
from labs.runtime import Runtime
from labs.services import cases, followups, outcomes, record, sessions
from labs.web import auth
from labs.web.auth import Identity

staff = [auth.require(Role.facilitator, Role.researcher)]


class OutcomeIn(msgspec.Struct, kw_only=True):
    kind: str = ""
    title: str = ""
    what_changed: str = ""
    who: str = ""
    change_agent: str = ""
    when_on: str | None = None
    where: str | None = None
    significance: str = ""
    contribution: str = ""
    evidence: str = ""
    verified_by: str = ""
    verified_on: str | None = None
    owner_name: str = ""
    owner_email: str | None = None
    due_on: str | None = None
    note_ids: list[int] = []
    cluster_ids: list[int] = []
    case_ids: list[int] = []
    # New outcomes only: a session's (session_id) or a community's (community_id), and its
    # check-ins in months after the session (default [1, 3, 6]).
    session_id: int | None = None
    community_id: int | None = None
    follow_up_months: list[int] | None = None


class DueIn(msgspec.Struct):
    due_on: str


class SummaryIn(msgspec.Struct):
    summary: str


class AnswerIn(msgspec.Struct, kw_only=True):
    progress: str
    what_was_done: str
    evidence: str = ""
    adopting_city: str | None = None
    adaptations: str = ""


class CaseIn(msgspec.Struct, kw_only=True):
    from_case_id: int | None = None
    title: str | None = None
    summary: str | None = None
    city: str | None = None
    country: str | None = None
    sdgs: list[int] | None = None
    topics: list[str] | None = None
    stage: str | None = None
    organisation: str | None = None
    url: str | None = None
    boosters: str | None = None
    barriers: str | None = None


def _me(identity: Identity) -> Account:
    assert identity.account
    return identity.account


def _base(request: Request[Any, Any, State]) -> str:
    return str(request.base_url).rstrip("/")


async def _outcome_json(rt: Runtime, account: Account, outcome_id: int) -> dict[str, Any]:
    view = await outcomes.view(rt, account, outcome_id)
    return outcomes.outcome_data(view.outcome, view.sources, view.follow_ups)


def _follow_up_json(rt: Runtime, base: str, follow_up: Any) -> dict[str, Any]:
    return outcomes.follow_up_data(follow_up) | {
        "state": followups.state_of(follow_up),
        "link": followups.link(rt, base, follow_up),
        "link_expires_on": outcomes.link_expires(follow_up).isoformat(),
    }


# --- the session record --------------------------------------------------------------------


@get("/sessions/{session_id:int}/record", guards=staff, summary="A session's record (its minutes)")
async def session_record(rt: Runtime, identity: Identity, session_id: int) -> dict[str, Any]:
    account = _me(identity)
    runs = account.role is not Role.researcher
    if runs:
        await sessions.get_for(rt, session_id, account)
    found = await record.session_record(rt, session_id)
    return found.data(include_hidden=runs)


@put("/sessions/{session_id:int}/summary", guards=[auth.facilitator], summary="Write the session's summary")
async def write_summary(rt: Runtime, identity: Identity, session_id: int, data: SummaryIn) -> dict[str, Any]:
    session = await record.write_summary(rt, _me(identity), session_id, data.summary)
    return {"session_id": session.id, "summary": session.summary}


# --- outcomes ------------------------------------------------------------------------------


@get("/outcomes", guards=staff, summary="Outcomes you may see, newest first (paginated)")
async def list_outcomes(
    rt: Runtime, identity: Identity, session_id: int | None = None, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    found = await outcomes.list_outcomes(rt, _me(identity), session_id=session_id, page=page, per_page=per_page)
    async with rt.db.read() as db:
        items = [outcomes.outcome_data(o, await outcomes.source_rows(db, o.id)) for o in found.items]
    return {"items": items, **found.meta()}


@post("/outcomes", guards=staff, status_code=201, summary="Record an outcome (with its check-ins)")
async def record_outcome(rt: Runtime, identity: Identity, data: OutcomeIn) -> dict[str, Any]:
    fields = msgspec.to_builtins(data)
    session_id = fields.pop("session_id")
    outcome = await outcomes.record_outcome(rt, _me(identity), session_id, fields)
    return await _outcome_json(rt, _me(identity), outcome.id)


@get("/outcomes/{outcome_id:int}", guards=staff, summary="An outcome with its sources and check-ins")
async def get_outcome(rt: Runtime, identity: Identity, outcome_id: int) -> dict[str, Any]:
    return await _outcome_json(rt, _me(identity), outcome_id)


@put("/outcomes/{outcome_id:int}", guards=staff, summary="Change an outcome's record and sources")
async def update_outcome(rt: Runtime, identity: Identity, outcome_id: int, data: OutcomeIn) -> dict[str, Any]:
    fields = msgspec.to_builtins(data)
    for key in ("session_id", "community_id", "follow_up_months"):
        fields.pop(key)
    await outcomes.update_outcome(rt, _me(identity), outcome_id, fields)
    return await _outcome_json(rt, _me(identity), outcome_id)


@post(
    "/outcomes/{outcome_id:int}/derived-case",
    guards=staff,
    status_code=201,
    summary="Make an adopted or adapted practice a case derived from its source case",
)
async def derive_case(rt: Runtime, identity: Identity, outcome_id: int, data: CaseIn) -> dict[str, Any]:
    view = await outcomes.view(rt, _me(identity), outcome_id)
    prefill = followups.case_prefill(view) if followups.can_become_case(view) else {}
    given = {k: v for k, v in msgspec.to_builtins(data).items() if v is not None}
    case = await followups.derive_case(rt, _me(identity), outcome_id, prefill | given)
    return cases.case_data(case)


# --- check-ins -----------------------------------------------------------------------------


@post("/outcomes/{outcome_id:int}/follow-ups", guards=staff, status_code=201, summary="Add a check-in")
async def add_follow_up(
    request: Request[Any, Any, State], rt: Runtime, identity: Identity, outcome_id: int, data: DueIn
) -> dict[str, Any]:
    follow_up = await outcomes.schedule_follow_up(rt, _me(identity), outcome_id, data.due_on)
    return _follow_up_json(rt, _base(request), follow_up)


@put("/follow-ups/{follow_up_id:int}", guards=staff, summary="Move a check-in to another date")
async def move_follow_up(
    request: Request[Any, Any, State], rt: Runtime, identity: Identity, follow_up_id: int, data: DueIn
) -> dict[str, Any]:
    follow_up = await outcomes.reschedule_follow_up(rt, _me(identity), follow_up_id, data.due_on)
    return _follow_up_json(rt, _base(request), follow_up)


@post("/follow-ups/{follow_up_id:int}/cancel", guards=staff, status_code=200, summary="Cancel a check-in")
async def cancel_follow_up(
    request: Request[Any, Any, State], rt: Runtime, identity: Identity, follow_up_id: int
) -> dict[str, Any]:
    follow_up = await outcomes.cancel_follow_up(rt, _me(identity), follow_up_id)
    return _follow_up_json(rt, _base(request), follow_up)


@get("/follow-ups", guards=staff, summary="Check-ins by state: due, overdue, answered, upcoming, all (paginated)")
async def list_follow_ups(
    request: Request[Any, Any, State],
    rt: Runtime,
    identity: Identity,
    which: Annotated[str, QueryParameter(name="state")] = "due",
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    found = await followups.listing(rt, _me(identity), which, page, per_page)
    items = [
        _follow_up_json(rt, _base(request), f)
        | {"outcome_title": o.title, "owner": {"name": o.owner_name, "email": o.owner_email} if o.owner_name else None}
        for f, o, _s in found.items
    ]
    return {"items": items, **found.meta()}


# --- the owner's side (the token is the key; no account) -----------------------------------


def _check_in_json(check_in: followups.CheckIn) -> dict[str, Any]:
    f, o = check_in.follow_up, check_in.outcome
    return {
        "outcome": {"title": o.title, "what_changed": o.what_changed, "kind": o.kind.value},
        "session": {"title": check_in.session.title} if check_in.session else None,
        "experiment": {"title": check_in.experiment.title} if check_in.experiment else None,
        "language": check_in.language,
        "due_on": f.due_on.isoformat(),
        "answer": {
            "progress": f.progress.value if f.progress else None,
            "what_was_done": f.findings,
            "evidence": f.evidence,
            "adopting_city": f.adopting_city,
            "adaptations": f.adaptations,
            "answered_at": f.done_at.isoformat() if f.done_at else None,
            "answers": f.answers,
        },
    }


@get("/check-ins/{token:str}", summary="A check-in by its private token (no account)")
async def get_check_in(rt: Runtime, token: str) -> dict[str, Any]:
    return _check_in_json(await followups.open_check_in(rt, token))


@post("/check-ins/{token:str}", status_code=200, summary="Answer a check-in (again) by its private token")
async def answer_check_in(rt: Runtime, token: str, data: AnswerIn) -> dict[str, Any]:
    await followups.answer(rt, token, msgspec.to_builtins(data))
    return _check_in_json(await followups.open_check_in(rt, token))


routes = [
    Router(
        path="/api/v1",
        route_handlers=[
            session_record,
            write_summary,
            list_outcomes,
            record_outcome,
            get_outcome,
            update_outcome,
            derive_case,
            add_follow_up,
            move_follow_up,
            cancel_follow_up,
            list_follow_ups,
            get_check_in,
            answer_check_in,
        ],
    )
]
