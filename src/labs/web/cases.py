"""Pages of the case library: browse and search, a case's page, add, edit, archive, restore and
delete; the review queue; and the public "Share a project" form."""

from __future__ import annotations

from functools import cache
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs import i18n
from labs.errors import LabsError, RateLimited
from labs.models import Role
from labs.paging import Page
from labs.runtime import Runtime
from labs.services import cases
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.render import failed, page, request_lang

Req = Request[Any, Any, State]
HONEYPOT = "website"


@cache
def country_names(lang: str) -> dict[str, str]:
    names = i18n.babel_locale(lang).territories
    return {code: str(names.get(code, code)) for code in cases.countries()}


def country_choices(lang: str) -> list[tuple[str, str]]:
    return sorted(country_names(lang).items(), key=lambda item: item[1])


def _may_edit(identity: Identity) -> bool:
    return identity.role in (Role.admin, Role.facilitator)


def case_form(data: dict[str, Any]) -> dict[str, Any]:
    """A posted case form as the service takes it: ticked topic suggestions plus the typed ones."""
    ticked = data.get("topics") or []
    ticked = [ticked] if isinstance(ticked, str) else list(ticked)
    typed = str(data.pop("topics_more", "") or "").replace(";", ",").split(",")
    data["topics"] = [t for t in ticked + typed if t.strip()]
    sdgs = data.get("sdgs") or []
    data["sdgs"] = [sdgs] if isinstance(sdgs, str) else list(sdgs)
    return data


async def _form_context(request: Req, rt: Runtime) -> dict[str, Any]:
    return {
        "topics": await cases.topic_suggestions(rt),
        "countries": country_choices(request_lang(request)),
    }


def _case_form_values(case: Any) -> dict[str, Any]:
    return {**cases.case_data(case), "stage": case.stage.value}


# --- the library ---------------------------------------------------------------------------


@get("/cases", guards=[auth.require_account])
async def case_list(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    params = request.query_params
    filters = {name: params.get(name) or "" for name in cases.FILTERS}
    message, status_code = None, 200
    try:
        found = await cases.list_cases(rt, filters, page=params.get("page") or 1)
    except LabsError as e:
        found, message, status_code = Page([], 1, cases.PER_PAGE, 0), e.message, e.status_code
    return page(
        request,
        "cases/list.html",
        block="results",
        status_code=status_code,
        found=found,
        filters=filters,
        message=message,
        topics=await cases.topic_suggestions(rt),
        places=await cases.places(rt),
        country_names=country_names(request_lang(request)),
        pending=await cases.pending_count(rt) if _may_edit(identity) else 0,
        may_edit=_may_edit(identity),
    )


@get("/cases/new", guards=[auth.facilitator])
async def case_new(request: Req, rt: Runtime) -> Response[Any]:
    return page(request, "cases/form.html", case=None, form={}, errors={}, **await _form_context(request, rt))


@post("/cases/new", guards=[auth.facilitator])
async def case_create(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    assert identity.account
    data = case_form(await form_data(request))
    try:
        case = await cases.create_case(rt, identity.account, data)
    except LabsError as e:
        return page(request, "cases/form.html", case=None, **failed(e, data), **await _form_context(request, rt))
    return Redirect(f"/cases/{case.id}")


async def _case_page(request: Req, rt: Runtime, identity: Identity, case_id: int, **extra: Any) -> Response[Any]:
    record = await cases.case_record(rt, case_id, request.query_params.get("page") or 1)
    return page(
        request,
        "cases/page.html",
        block="notes",
        r=record,
        country_names=country_names(request_lang(request)),
        may_edit=_may_edit(identity),
        **extra,
    )


@get("/cases/{case_id:int}", guards=[auth.require_account])
async def case_page(request: Req, rt: Runtime, identity: Identity, case_id: int) -> Response[Any]:
    return await _case_page(request, rt, identity, case_id)


@get("/cases/{case_id:int}/edit", guards=[auth.facilitator])
async def case_edit_form(request: Req, rt: Runtime, case_id: int) -> Response[Any]:
    case = await cases.get_case(rt, case_id)
    return page(
        request,
        "cases/form.html",
        case=case,
        form=_case_form_values(case),
        errors={},
        **await _form_context(request, rt),
    )


@post("/cases/{case_id:int}/edit", guards=[auth.facilitator])
async def case_edit(request: Req, rt: Runtime, identity: Identity, case_id: int) -> Response[Any]:
    assert identity.account
    data = case_form(await form_data(request))
    try:
        await cases.update_case(rt, identity.account, case_id, data)
    except LabsError as e:
        case = await cases.get_case(rt, case_id)
        return page(request, "cases/form.html", case=case, **failed(e, data), **await _form_context(request, rt))
    return Redirect(f"/cases/{case_id}")


@post("/cases/{case_id:int}/{action:str}", guards=[auth.facilitator])
async def case_action(request: Req, rt: Runtime, identity: Identity, case_id: int, action: str) -> Response[Any]:
    """archive, restore or delete; a refused delete shows the case page with the reason."""
    assert identity.account
    changes = {"archive": cases.archive_case, "restore": cases.restore_case, "delete": cases.delete_case}
    if action not in changes:
        raise LabsError("Unknown case action %(value)r.", value=action)
    try:
        await changes[action](rt, identity.account, case_id)
    except LabsError as e:
        return await _case_page(
            request, rt, identity, case_id, status_code=e.status_code, messages=[("error", e.message)]
        )
    return Redirect("/cases" if action == "delete" else f"/cases/{case_id}")


# --- the review queue ----------------------------------------------------------------------


@get("/cases/review", guards=[auth.facilitator])
async def review_queue(request: Req, rt: Runtime, status: str = "submitted") -> Response[Any]:
    found = await cases.list_submissions(rt, status, request.query_params.get("page") or 1)
    return page(
        request, "cases/review.html", found=found, status=status, country_names=country_names(request_lang(request))
    )


async def _review_page(request: Req, rt: Runtime, submission_id: int, **extra: Any) -> Response[Any]:
    submission, case = await cases.get_submission(rt, submission_id)
    extra.setdefault("form", _case_form_values(case))
    extra.setdefault("errors", {})
    return page(request, "cases/review_one.html", sub=submission, **extra, **await _form_context(request, rt))


@get("/cases/review/{submission_id:int}", guards=[auth.facilitator])
async def review_form(request: Req, rt: Runtime, submission_id: int) -> Response[Any]:
    return await _review_page(request, rt, submission_id)


@post("/cases/review/{submission_id:int}", guards=[auth.facilitator])
async def review(request: Req, rt: Runtime, identity: Identity, submission_id: int) -> Response[Any]:
    assert identity.account
    data = await form_data(request)
    action = data.pop("action", "")
    try:
        if action == "accept":
            case = await cases.accept_submission(rt, identity.account, submission_id, case_form(data))
            return Redirect(f"/cases/{case.id}")
        if action == "reject":
            await cases.reject_submission(rt, identity.account, submission_id, data.get("reason"))
            return Redirect("/cases/review")
        raise LabsError("Unknown review action %(value)r; accept or reject.", value=action)
    except LabsError as e:
        if action == "reject":
            shown = failed(e)
            shown.pop("form")  # the case's own fields stay as they are; the typed reason comes back
            return await _review_page(request, rt, submission_id, **shown, reason=data.get("reason"))
        return await _review_page(request, rt, submission_id, **failed(e, data))


# --- share a project (public) --------------------------------------------------------------


@get("/share")
async def share_form(request: Req, rt: Runtime, sent: bool = False) -> Response[Any]:
    return page(request, "cases/share.html", form={}, errors={}, sent=sent, **await _form_context(request, rt))


@post("/share")
async def share(request: Req, rt: Runtime) -> Response[Any]:
    data = case_form(await form_data(request))
    if str(data.pop(HONEYPOT, "") or "").strip():
        return Redirect("/share?sent=1")  # a robot: it sees success, nothing is stored
    try:
        if not await rt.limits.submissions.take(auth.client_address(request)):
            raise RateLimited("Too many projects sent from here in a short time; please try again in a few minutes.")
        await cases.submit_project(rt, data, request_lang(request))
    except LabsError as e:
        return page(request, "cases/share.html", sent=False, **failed(e, data), **await _form_context(request, rt))
    return Redirect("/share?sent=1")


routes = [
    case_list,
    case_new,
    case_create,
    case_page,
    case_edit_form,
    case_edit,
    case_action,
    review_queue,
    review_form,
    review,
    share_form,
    share,
]
