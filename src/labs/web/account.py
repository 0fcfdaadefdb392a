"""Pages about one's own account (its API tokens), and the admins' list of every token."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect

from labs import validate
from labs.errors import LabsError
from labs.models import Account
from labs.runtime import Runtime
from labs.services import accounts
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data, safe_next
from labs.web.render import failed, page

Req = Request[Any, Any, State]


def _me(identity: Identity) -> Account:
    assert identity.account
    return identity.account


async def _account_page(request: Req, rt: Runtime, account: Account, **extra: Any) -> Response[Any]:
    return page(
        request,
        "account/page.html",
        me=account,
        tokens=await accounts.list_api_tokens(rt, account_id=account.id, page=request.query_params.get("page")),
        token_days=rt.settings.token_days,
        token_max_days=rt.settings.token_max_days,
        **{"form": {}, "errors": {}, "issued": None, **extra},
    )


@get("/account", guards=[auth.require_account])
async def account_page(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    return await _account_page(request, rt, _me(identity))


@post("/account/tokens", guards=[auth.require_account])
async def token_create(request: Req, rt: Runtime, identity: Identity) -> Response[Any]:
    """Make a token and show it on this answer only (the server keeps its digest)."""
    data = await form_data(request)
    try:
        issued = await accounts.create_api_token(
            rt, _me(identity), name=data.get("name", ""), expires_in_days=data.get("expires_in_days")
        )
    except LabsError as e:
        return await _account_page(request, rt, _me(identity), **failed(e, data))
    return await _account_page(request, rt, _me(identity), issued=issued)


@get("/account/tokens/{token_id:int}/revoke", guards=[auth.require_account])
async def token_revoke_form(
    request: Req, rt: Runtime, identity: Identity, token_id: int, next: str | None = None
) -> Response[Any]:
    found = await accounts.api_token(rt, _me(identity), token_id)
    return page(request, "account/revoke.html", token=found, me=_me(identity), next=safe_next(next, "/account"))


@post("/account/tokens/{token_id:int}/revoke", guards=[auth.require_account])
async def token_revoke(request: Req, rt: Runtime, identity: Identity, token_id: int) -> Response[Any]:
    data = await form_data(request)
    await accounts.revoke_api_token(rt, _me(identity), token_id)
    return Redirect(safe_next(data.get("next"), "/account"))


@get("/admin/tokens", guards=[auth.admin])
async def admin_tokens(request: Req, rt: Runtime) -> Response[Any]:
    chosen = request.query_params.get("account_id") or None  # the filter's "All accounts" sends ""
    account_id = validate.integer(chosen, "account_id") if chosen else None
    found = await accounts.list_api_tokens(rt, account_id=account_id, page=request.query_params.get("page"))
    return page(
        request,
        "admin/tokens.html",
        tokens=found,
        accounts=await accounts.all_accounts(rt),
        account_id=account_id,
    )


routes = [account_page, token_create, token_revoke_form, token_revoke, admin_tokens]
