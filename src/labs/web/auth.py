"""Who is asking, found one way for every transport, and the guards that keep each caller to
what their role allows.

- Pages (HTTP outside /api/): the login cookie, and the participant cookie of the session in
  the path. Forms carry a CSRF token.
- The JSON API (HTTP under /api/): a bearer token only (an account's or a participant's), so a
  page on another site cannot act with the browser's cookies.
- The websocket: a bearer token, or the app's own page's cookies (the handler checks Origin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from labs.errors import Unauthorized
from labs.models import Account, Participant, Role
from labs.services import accounts, participants
from labs.services.credentials import PARTICIPANT_TOKEN_PREFIX

SESSION_COOKIE = "labs_session"
PARTICIPANT_COOKIE = "labs_p{session_id}"
_CACHE = "labs_identity"

Connection = ASGIConnection[Any, Any, Any, Any]


@dataclass
class Identity:
    account: Account | None = None
    participant: Participant | None = None
    via_bearer: bool = False
    # Why a credential that was sent is refused (an expired API token), for the 401's message.
    problem: str | None = None

    @property
    def role(self) -> Role | None:
        return self.account.role if self.account else None


def cookie(connection: Connection, key: str, value: str, max_age: int) -> Cookie:
    """A cookie as this app sets them: HttpOnly, SameSite=Lax, and Secure when people reach the app
    over HTTPS (LABS_PUBLIC_URL says so even when a proxy in front speaks plain HTTP to it)."""
    secure = connection.app.state.settings.secure_cookies or connection.url.scheme == "https"
    return Cookie(key=key, value=value, httponly=True, samesite="lax", secure=secure, max_age=max_age, path="/")


def client_address(connection: Connection) -> str:
    """The caller's address. X-Forwarded-For counts only when the direct peer is one of the
    proxies in LABS_TRUSTED_PROXIES, and then its last entry that is not itself such a proxy:
    anyone can send the header, only a proxy we run can vouch for it."""
    peer = connection.client.host if connection.client else "unknown"
    trusted = connection.app.state.settings.trusted_proxies
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return next((h for h in reversed(hops) if h not in trusted), peer)


def participant_cookie(session_id: int) -> str:
    return PARTICIPANT_COOKIE.format(session_id=session_id)


def bearer_token(connection: Connection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _path_session(connection: Connection) -> int | None:
    value = connection.path_params.get("session_id")
    return value if isinstance(value, int) else None


async def identify(connection: Connection, session_id: int | None = None) -> Identity:
    """The account and/or participant behind a request or socket (resolved once per request).
    The participant is the one of `session_id` (default: the session in the path)."""
    state = connection.scope.setdefault("state", {})
    own_session = session_id is None
    if own_session and (cached := state.get(_CACHE)) is not None:
        return cached
    session_id = _path_session(connection) if own_session else session_id
    rt = connection.app.state.runtime
    api = connection.scope["type"] == "http" and connection.scope["path"].startswith("/api/")
    token = bearer_token(connection) if api or connection.scope["type"] == "websocket" else None
    identity = Identity()
    if token and token.startswith(PARTICIPANT_TOKEN_PREFIX):
        found = await participants.by_token(rt, token)
        identity = Identity(participant=found, via_bearer=True)
    elif token:
        try:
            identity = Identity(account=await accounts.by_api_token(rt, token), via_bearer=True)
        except Unauthorized as e:
            identity = Identity(via_bearer=True, problem=e.message)
    elif not api:
        if login := connection.cookies.get(SESSION_COOKIE):
            identity.account = await accounts.by_login_session(rt, login)
        if session_id is not None and (own := connection.cookies.get(participant_cookie(session_id))):
            found = await participants.by_token(rt, own)
            identity.participant = found if found and found.session_id == session_id else None
    if own_session:
        state[_CACHE] = identity
    return identity


def known(connection: Connection) -> Identity | None:
    """The identity already resolved for this request, if any (pages show who is logged in)."""
    return connection.scope.get("state", {}).get(_CACHE)


def require(*roles: Role) -> Any:
    """Guard: an account with one of `roles` (admin passes every account guard)."""

    async def guard(connection: Connection, _: BaseRouteHandler) -> None:
        identity = await identify(connection)
        if identity.account is None:
            raise NotAuthorizedException(identity.problem or "Log in first.")
        if identity.account.role is not Role.admin and identity.account.role not in roles:
            raise PermissionDeniedException("Your role does not allow this.")

    return guard


async def require_account(connection: Connection, _: BaseRouteHandler) -> None:
    identity = await identify(connection)
    if identity.account is None:
        raise NotAuthorizedException(identity.problem or "Log in first.")


async def require_participant(connection: Connection, _: BaseRouteHandler) -> None:
    identity = await identify(connection)
    if identity.participant is None:
        raise NotAuthorizedException(identity.problem or "A participant token is required.")


facilitator = require(Role.facilitator)
researcher = require(Role.researcher)
admin = require(Role.admin)
