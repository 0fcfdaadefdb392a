"""Pages for accounts: first-run setup, login and logout, language, home, sessions (plan and
agenda) and accounts administration (research pages: web/research.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from labs import i18n, validate
from labs.errors import LabsError
from labs.models import Role, SessionKind, SessionStatus
from labs.runtime import Runtime
from labs.services import accounts, communities, sessions
from labs.web import auth, record
from labs.web.auth import SESSION_COOKIE, Identity
from labs.web.forms import form_data, safe_next
from labs.web.render import LANG_COOKIE, failed, page

Req = Request[Any, Any, State]


def _login_cookie(request: Req, secret: str) -> Cookie:
    lifetime = accounts.login_lifetime(request.app.state.runtime)
    return auth.cookie(request, SESSION_COOKIE, secret, int(lifetime.total_seconds()))


def _home_for(identity: Identity) -> str:
    if identity.role is Role.researcher:
        return "/research"
    return "/sessions"


@get("/")
async def home(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    if identity.account:
        return Redirect(_home_for(identity))
    if await accounts.count(rt) == 0:
        return Redirect("/setup")
    return page(request, "home.html")


@get("/setup")
async def setup_form(request: Req, rt: Runtime) -> Response[Any]:
    if await accounts.count(rt):
        return Redirect("/login")
    return page(request, "auth/setup.html", form={}, errors={})


@post("/setup")
async def setup(request: Req, rt: Runtime) -> Response[Any]:
    data = await form_data(request)
    try:
        await accounts.create(
            rt,
            email=data.get("email", ""),
            password=data.get("password", ""),
            role="admin",
            display_name=data.get("display_name", ""),
            first_admin=True,
        )
        _, secret = await accounts.log_in(
            rt, data.get("email", ""), data.get("password", ""), client=auth.client_address(request)
        )
    except LabsError as e:
        return page(
            request,
            "auth/setup.html",
            **failed(e, data),
        )
    return Redirect("/sessions", cookies=[_login_cookie(request, secret)])


@get("/login")
async def login_form(request: Req, rt: Runtime, next: str | None = None) -> Response[Any]:
    if await accounts.count(rt) == 0:
        return Redirect("/setup")
    return page(request, "auth/login.html", form={}, errors={}, next=safe_next(next, ""))


@post("/login")
async def login(request: Req, rt: Runtime, next: str | None = None) -> Response[Any]:
    data = await form_data(request)
    target = safe_next(data.get("next") or next, "")
    try:
        account, secret = await accounts.log_in(
            rt,
            data.get("email", ""),
            data.get("password", ""),
            request.cookies.get(SESSION_COOKIE),
            client=auth.client_address(request),
        )
    except LabsError as e:
        return page(
            request,
            "auth/login.html",
            status_code=e.status_code,
            form={"email": data.get("email", "")},
            errors={},
            next=target,
            messages=[("error", e.message)],
        )
    return Redirect(target or _home_for(Identity(account=account)), cookies=[_login_cookie(request, secret)])


@post("/logout")
async def logout(request: Req, rt: Runtime) -> Response[Any]:
    if sid := request.cookies.get(SESSION_COOKIE):
        await accounts.log_out(rt, sid)
    return Redirect("/login", cookies=[auth.cookie(request, SESSION_COOKIE, "", 0)])


@get("/lang/{code:str}")
async def set_language(
    request: Req, rt: Runtime, identity: Identity, code: str, next: str | None = None
) -> Response[Any]:
    if code not in i18n.LANGUAGES:
        raise LabsError(f"Unknown language {code!r}; choose one of: {', '.join(i18n.LANGUAGES)}.")
    if identity.account:
        await accounts.set_language(rt, identity.account.id, code)
    return Redirect(safe_next(next), cookies=[auth.cookie(request, LANG_COOKIE, code, 365 * 86400)])


# --- sessions: list, create, plan ----------------------------------------------------------


@get("/sessions", guards=[auth.facilitator])
async def session_list(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    assert identity.account
    return page(request, "sessions/list.html", sessions=await sessions.list_for(rt, identity.account))


@get("/sessions/new", guards=[auth.facilitator])
async def session_new(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    assert identity.account
    choices = await communities.choices_for(rt, identity.account)
    return page(request, "sessions/new.html", form={}, errors={}, kinds=list(SessionKind), communities=choices)


@post("/sessions/new", guards=[auth.facilitator])
async def session_create(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    assert identity.account
    data = await form_data(request)
    agenda = [
        {"title": line.strip(), "minutes": 10}
        for line in str(data.pop("agenda", "") or "").splitlines()
        if line.strip()
    ]
    try:
        session = await sessions.create(rt, identity.account, {**data, "agenda": agenda})
    except LabsError as e:
        return page(
            request,
            "sessions/new.html",
            **failed(e, data),
            kinds=list(SessionKind),
            communities=await communities.choices_for(rt, identity.account),
        )
    return Redirect(f"/sessions/{session.id}")


async def _plan_page(request: Req, rt: Runtime, identity: Identity, session_id: int, **extra: Any) -> Response[Any]:
    assert identity.account
    session = await sessions.get_for(rt, session_id, identity.account)
    return page(
        request,
        "sessions/plan.html",
        block=extra.pop("block", None),
        session=session,
        facilitators=await sessions.facilitators(rt, session_id),
        kinds=list(SessionKind),
        communities=await communities.choices_for(rt, identity.account),
        tab="plan",
        activity_types=["brainstorm", "discussion", "case_presentation", "voting", "reflection"],
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/sessions/{session_id:int}", guards=[auth.require(Role.facilitator, Role.researcher)])
async def session_home(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    """A closed session's page is its record; before that, its plan."""
    assert identity.account
    if identity.account.role is Role.researcher or (await sessions.get(rt, session_id)).status is SessionStatus.closed:
        return await record.record_page(request, rt, identity.account, session_id)
    return await _plan_page(request, rt, identity, session_id)


@get("/sessions/{session_id:int}/plan", guards=[auth.facilitator])
async def session_plan(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    return await _plan_page(request, rt, identity, session_id)


@post("/sessions/{session_id:int}", guards=[auth.facilitator])
async def session_update(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    assert identity.account
    data = await form_data(request)
    try:
        await sessions.update(rt, identity.account, session_id, data)
    except LabsError as e:
        return await _plan_page(
            request,
            rt,
            identity,
            session_id,
            **failed(e, data),
        )
    return Redirect(f"/sessions/{session_id}")


@post("/sessions/{session_id:int}/agenda", guards=[auth.facilitator])
async def agenda_change(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    """Add, edit, move or remove an agenda item; answers htmx with the agenda block."""
    assert identity.account
    data = await form_data(request)
    action = data.pop("action", "add")
    try:
        activity_id = validate.integer(data.pop("activity_id", 0) or 0, "activity_id")
        if action == "add":
            await sessions.add_activity(rt, identity.account, session_id, data)
        elif action == "save":
            await sessions.update_activity(rt, identity.account, session_id, activity_id, data)
        elif action in ("up", "down"):
            await sessions.move_activity(rt, identity.account, session_id, activity_id, -1 if action == "up" else 1)
        elif action == "remove":
            await sessions.remove_activity(rt, identity.account, session_id, activity_id)
        else:
            raise LabsError(f"Unknown agenda action {action!r}.")
    except LabsError as e:
        return await _plan_page(
            request,
            rt,
            identity,
            session_id,
            block="agenda",
            status_code=e.status_code,
            form=data,
            errors=e.field_errors,
            agenda_error=e.message,
        )
    if request.headers.get("hx-request") == "true":
        return await _plan_page(request, rt, identity, session_id, block="agenda")
    return Redirect(f"/sessions/{session_id}#agenda")


@post("/sessions/{session_id:int}/facilitators", guards=[auth.facilitator])
async def facilitator_add(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    assert identity.account
    data = await form_data(request)
    try:
        await sessions.add_facilitator(rt, identity.account, session_id, data.get("email", ""))
    except LabsError as e:
        return await _plan_page(
            request,
            rt,
            identity,
            session_id,
            status_code=e.status_code,
            errors={"facilitator_email": e.message},
            messages=[("error", e.message)],
        )
    return Redirect(f"/sessions/{session_id}#facilitators")


# --- administration --------------------------------------------------------------------


@get("/admin/accounts", guards=[auth.admin])
async def account_list(request: Req, rt: Runtime) -> Response[Any]:
    return page(
        request, "admin/accounts.html", accounts=await accounts.all_accounts(rt), form={}, errors={}, roles=list(Role)
    )


@post("/admin/accounts", guards=[auth.admin])
async def account_create(request: Req, rt: Runtime) -> Response[Any]:
    data = await form_data(request)
    try:
        await accounts.create(
            rt,
            email=data.get("email", ""),
            password=data.get("password", ""),
            role=data.get("role", ""),
            display_name=data.get("display_name", ""),
        )
    except LabsError as e:
        return page(
            request,
            "admin/accounts.html",
            **failed(e, data),
            accounts=await accounts.all_accounts(rt),
            roles=list(Role),
        )
    return Redirect("/admin/accounts")


routes = [
    home,
    setup_form,
    setup,
    login_form,
    login,
    logout,
    set_language,
    session_list,
    session_new,
    session_create,
    session_home,
    session_plan,
    session_update,
    agenda_change,
    facilitator_add,
    account_list,
    account_create,
]
