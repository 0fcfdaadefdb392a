"""Privacy pages: an admin erases a person (a confirmation page that says what will go, then the
erasure) and reads the deletion log."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs.i18n import N_
from labs.runtime import Runtime
from labs.services import privacy
from labs.web import auth
from labs.web.auth import Identity
from labs.web.render import page

Req = Request[Any, Any, State]


@get("/admin/privacy", guards=[auth.admin])
async def deletion_log(request: Req, rt: Runtime) -> Response[Any]:
    q = request.query_params
    messages = [("success", N_("The person is erased; the deletion log holds the erasure."))] if q.get("done") else []
    return page(
        request,
        "admin/privacy.html",
        log=await privacy.deletion_log(rt, q.get("page")),
        messages=messages,
        errors={},
    )


@get("/admin/privacy/find", guards=[auth.admin])
async def find_participant(request: Req, rt: Runtime, participant_id: str = "") -> Response[Any]:
    """The form on the deletion log page: from a participant's number to its confirmation page."""
    if participant_id.strip().isdigit():
        return Redirect(f"/admin/participants/{participant_id.strip()}/erase")
    return page(
        request,
        "admin/privacy.html",
        status_code=400,
        log=await privacy.deletion_log(rt),
        errors={"participant_id": N_("Enter the participant's number.")},
    )


@get("/admin/participants/{participant_id:int}/erase", guards=[auth.admin])
async def erase_confirm(request: Req, rt: Runtime, participant_id: int) -> Response[Any]:
    plan = await privacy.plan(rt, participant_id)
    return page(request, "admin/erase.html", plan=plan)


@post("/admin/participants/{participant_id:int}/erase", guards=[auth.admin])
async def erase(request: Req, rt: Runtime, identity: Identity, participant_id: int) -> Response[Any]:
    assert identity.account
    await privacy.erase(rt, identity.account, participant_id)
    return Redirect("/admin/privacy?done=1")


routes = [deletion_log, find_participant, erase_confirm, erase]
