"""The case library in the JSON API (/api/v1/cases, /api/v1/submissions): the same service
functions as the pages, bearer tokens only."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Router, delete, get, post, put

from labs.runtime import Runtime
from labs.services import cases
from labs.web import auth
from labs.web.auth import Identity


class CaseIn(msgspec.Struct, kw_only=True):
    """A case's fields. On update, fields left out keep their value."""

    title: str | None = None
    summary: str | None = None
    city: str | None = None
    country: str | None = None
    sdgs: list[int] | None = None
    topics: list[str] | None = None
    stage: str | None = None
    organisation: str | None = None
    links: list[str] | None = None
    boosters: str | None = None
    barriers: str | None = None


class RejectIn(msgspec.Struct, kw_only=True):
    reason: str = ""


def _given(data: CaseIn | None) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None} if data else {}


def _account(identity: Identity) -> Any:
    assert identity.account
    return identity.account


@get("/cases", guards=[auth.require_account], summary="Cases in the library, newest first (filtered, paged)")
async def list_cases(
    rt: Runtime,
    q: str | None = None,
    sdg: int | None = None,
    topic: str | None = None,
    city: str | None = None,
    country: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = cases.PER_PAGE,
) -> dict[str, Any]:
    filters = {"q": q, "sdg": sdg, "topic": topic, "city": city, "country": country, "stage": stage, "status": status}
    found = await cases.list_cases(rt, filters, page=page, per_page=per_page)
    return {"items": [cases.case_data(c) for c in found.items], **found.meta()}


@get("/cases/{case_id:int}", guards=[auth.require_account], summary="One case")
async def get_case(rt: Runtime, case_id: int) -> dict[str, Any]:
    return cases.case_data(await cases.get_case(rt, case_id))


@post("/cases", guards=[auth.facilitator], status_code=201, summary="Add a case to the library")
async def create_case(rt: Runtime, identity: Identity, data: CaseIn) -> dict[str, Any]:
    return cases.case_data(await cases.create_case(rt, _account(identity), _given(data)))


@put("/cases/{case_id:int}", guards=[auth.facilitator], summary="Change a case (fields left out keep their value)")
async def update_case(rt: Runtime, identity: Identity, case_id: int, data: CaseIn) -> dict[str, Any]:
    return cases.case_data(await cases.update_case(rt, _account(identity), case_id, _given(data)))


@post("/cases/{case_id:int}/archive", guards=[auth.facilitator], status_code=200, summary="Archive a case")
async def archive_case(rt: Runtime, identity: Identity, case_id: int) -> dict[str, Any]:
    return cases.case_data(await cases.archive_case(rt, _account(identity), case_id))


@post("/cases/{case_id:int}/restore", guards=[auth.facilitator], status_code=200, summary="Restore an archived case")
async def restore_case(rt: Runtime, identity: Identity, case_id: int) -> dict[str, Any]:
    return cases.case_data(await cases.restore_case(rt, _account(identity), case_id))


@delete("/cases/{case_id:int}", guards=[auth.facilitator], status_code=204, summary="Delete a case nothing points at")
async def delete_case(rt: Runtime, identity: Identity, case_id: int) -> None:
    await cases.delete_case(rt, _account(identity), case_id)


@get("/submissions", guards=[auth.facilitator], summary="The review queue of Share a project (or the rejected ones)")
async def list_submissions(rt: Runtime, status: str = "submitted", page: int = 1) -> dict[str, Any]:
    found = await cases.list_submissions(rt, status, page)
    return {"items": [cases.submission_data(*row) for row in found.items], **found.meta()}


@post("/submissions/{submission_id:int}/accept", guards=[auth.facilitator], status_code=200, summary="Accept (edited)")
async def accept_submission(
    rt: Runtime, identity: Identity, submission_id: int, data: CaseIn | None = None
) -> dict[str, Any]:
    return cases.case_data(await cases.accept_submission(rt, _account(identity), submission_id, _given(data)))


@post("/submissions/{submission_id:int}/reject", guards=[auth.facilitator], status_code=200, summary="Reject")
async def reject_submission(
    rt: Runtime, identity: Identity, submission_id: int, data: RejectIn | None = None
) -> dict[str, Any]:
    submission = await cases.reject_submission(rt, _account(identity), submission_id, data.reason if data else "")
    return cases.submission_data(*await cases.get_submission(rt, submission.id))


routes = [
    Router(
        path="/api/v1",
        route_handlers=[
            list_cases,
            get_case,
            create_case,
            update_case,
            archive_case,
            restore_case,
            delete_case,
            list_submissions,
            accept_submission,
            reject_submission,
        ],
    )
]
