"""Who is asking: accounts (browser cookie or bearer token) and participants (their own token),
and the guards that keep each to what their role allows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from labs.i18n import N_
from labs.models import Account, Participant, Role

SESSION_COOKIE = "labs_session"
PARTICIPANT_COOKIE = "labs_p{session_id}"
ACCOUNT_TOKEN_PREFIX = "lat_"
PARTICIPANT_TOKEN_PREFIX = "lpt_"
FOLLOW_UP_TOKEN_PREFIX = "lfu_"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("labs-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a password is too weak (a message with %(n)s for the minimum length), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_("The password must be at least %(n)s characters.")
    if len(set(password)) < 4:
        return N_("The password must not repeat the same few characters.")
    if password.lower() in {"password123", "welcome123", "qwertyuiop", "1234567890", "labs123456"}:
        return N_("The password is too common.")
    return None


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def follow_up_token(secret_key: str, nonce: str) -> str:
    """A check-in's private link token: an HMAC of its stored nonce, so the facilitator can copy
    the link again later while the database holds only the nonce and the token's digest (a copy
    of the database without the secret key opens no form)."""
    mac = hmac.new(secret_key.encode(), f"follow-up:{nonce}".encode(), hashlib.sha256).digest()
    return FOLLOW_UP_TOKEN_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclass
class Identity:
    account: Account | None = None
    participant: Participant | None = None
    via_bearer: bool = False

    @property
    def role(self) -> Role | None:
        return self.account.role if self.account else None


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def identify(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Resolve (once per connection) the account or participant behind a request."""
    cached = connection.scope.get("state", {}).get("labs_identity")
    if cached is not None:
        return cached
    from labs.services import accounts, participants

    rt = connection.app.state.runtime
    token = bearer_token(connection)
    identity = Identity()
    if token and token.startswith(PARTICIPANT_TOKEN_PREFIX):
        identity = Identity(participant=await participants.by_token(rt, token), via_bearer=True)
    elif token:
        identity = Identity(account=await accounts.by_api_token(rt, token), via_bearer=True)
    elif sid := connection.cookies.get(SESSION_COOKIE):
        identity = Identity(account=await accounts.by_login_session(rt, sid))
    connection.scope.setdefault("state", {})["labs_identity"] = identity
    return identity


def require(*roles: Role) -> Any:
    """Guard: an account with one of `roles` (admin passes every account guard)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        identity = await identify(connection)
        if identity.account is None:
            raise NotAuthorizedException("Log in first.")
        if identity.account.role is not Role.admin and identity.account.role not in roles:
            raise PermissionDeniedException("Your role does not allow this.")

    return guard


async def require_account(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if (await identify(connection)).account is None:
        raise NotAuthorizedException("Log in first.")


async def require_participant(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if (await identify(connection)).participant is None:
        raise NotAuthorizedException("A participant token is required.")


facilitator = require(Role.facilitator)
researcher = require(Role.researcher)
admin = require(Role.admin)
