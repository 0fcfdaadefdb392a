"""Accounts, browser login sessions and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from labs import paging, validate
from labs.errors import Conflict, Invalid, NotFound, RateLimited, Unauthorized
from labs.i18n import N_
from labs.models import Account, ApiToken, LoginSession, Role
from labs.runtime import Runtime
from labs.services.credentials import (
    ACCOUNT_TOKEN_PREFIX,
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_token,
    password_problem,
    token_digest,
    verify_password,
)

# How stale last_seen_at (and a token's last_used_at) may get before a request writes it again:
# idle expiry stays accurate to a few minutes while a page load is not a write each time.
TOUCH_EVERY = timedelta(minutes=5)
WRONG_LOGIN = "Wrong email or password."
TOKEN_NAME_LENGTH = 120


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise Invalid("Enter a valid email address.", {"email": "Enter a valid email address."})
    return email


async def count(rt: Runtime) -> int:
    async with rt.db.read() as db:
        return int(await db.scalar(select(func.count()).select_from(Account)) or 0)


async def create(
    rt: Runtime, *, email: str, password: str, role: str, display_name: str = "", first_admin: bool = False
) -> Account:
    """Create an account. With first_admin, succeed only while no account exists (setup page)."""
    email = _clean_email(email)
    try:
        role_value = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise Invalid(
            "Unknown role %(role)r; allowed: %(allowed)s.",
            {"role": "Choose one of: %(allowed)s."},
            role=role,
            allowed=allowed,
        )
    if problem := password_problem(password or ""):
        raise Invalid(problem, {"password": problem}, n=MIN_PASSWORD_LENGTH)
    name = (display_name or "").strip()[:120] or email.split("@")[0]
    password_hash = await hash_password(password)
    async with rt.db.write() as db:
        if first_admin and await db.scalar(select(func.count()).select_from(Account)):
            raise Conflict("Setup is already done: log in instead.")
        if await db.scalar(select(Account.id).where(Account.email == email)):
            raise Conflict("An account with this email already exists.", {"email": "This email is taken."})
        account = Account(email=email, display_name=name, password_hash=password_hash, role=role_value)
        db.add(account)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict("An account with this email already exists.", {"email": "This email is taken."})
    return account


async def authenticate(rt: Runtime, email: str, password: str, *, client: str = "local") -> Account:
    """The account behind an email and password, attempts throttled per account and per address
    (`client`) before any password is checked."""
    email = (email or "").strip().lower()
    account_ok = await rt.limits.logins_per_account.take(email[:254])
    if not await rt.limits.logins_per_address.take(client) or not account_ok:
        raise RateLimited("Too many login attempts. Wait a few minutes and try again.")
    async with rt.db.read() as db:
        account = await db.scalar(select(Account).where(Account.email == email))
    ok = await verify_password(account.password_hash if account else None, password or "")
    if not ok or account is None or not account.active:
        raise Unauthorized(WRONG_LOGIN)
    return account


def login_lifetime(rt: Runtime) -> timedelta:
    """The longest a login lasts (the cookie's max-age)."""
    return timedelta(days=rt.settings.login_max_days)


def _login_expired(rt: Runtime, now: datetime) -> ColumnElement[bool]:
    idle = timedelta(hours=rt.settings.login_idle_hours)
    return or_(LoginSession.expires_at <= now, LoginSession.last_seen_at <= now - idle)


async def log_in(
    rt: Runtime, email: str, password: str, old_secret: str | None = None, *, client: str = "local"
) -> tuple[Account, str]:
    """Check the password and open a fresh login session (a new secret every time: no fixation).
    Returns the secret for the cookie; the database keeps only its digest. The account's ended
    login sessions go at the same time (an indexed delete), so rows never pile up per person."""
    account = await authenticate(rt, email, password, client=client)
    secret = new_token()
    now = datetime.now(UTC)
    async with rt.db.write() as db:
        gone = _login_expired(rt, now)
        if old_secret:
            gone = or_(gone, LoginSession.token_hash == token_digest(old_secret))
        await db.execute(delete(LoginSession).where(LoginSession.account_id == account.id, gone))
        db.add(
            LoginSession(
                token_hash=token_digest(secret),
                account_id=account.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + login_lifetime(rt),
            )
        )
    return account, secret


async def log_out(rt: Runtime, secret: str) -> None:
    async with rt.db.write() as db:
        await db.execute(delete(LoginSession).where(LoginSession.token_hash == token_digest(secret)))


async def by_login_session(rt: Runtime, secret: str) -> Account | None:
    """The account logged in with this cookie secret, while its login session lasts."""
    now, digest = datetime.now(UTC), token_digest(secret)
    async with rt.db.read() as db:
        found = (
            await db.execute(
                select(Account, LoginSession.last_seen_at)
                .join(LoginSession, LoginSession.account_id == Account.id)
                .where(LoginSession.token_hash == digest, ~_login_expired(rt, now))
            )
        ).one_or_none()
    if found is None or not found[0].active:
        return None
    if found[1] <= now - TOUCH_EVERY:
        async with rt.db.write() as db:
            await db.execute(update(LoginSession).where(LoginSession.token_hash == digest).values(last_seen_at=now))
    return found[0]


@dataclass(frozen=True)
class Removed:
    login_sessions: int
    api_tokens: int


async def remove_expired(rt: Runtime) -> Removed:
    """Delete every login session and API token that has ended (`labs cleanup`, from cron)."""
    now = datetime.now(UTC)
    async with rt.db.write() as db:
        logins = await db.execute(delete(LoginSession).where(_login_expired(rt, now)))
        tokens = await db.execute(delete(ApiToken).where(ApiToken.expires_at <= now))
    return Removed(login_sessions=logins.rowcount or 0, api_tokens=tokens.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Issued:
    """A new API token: the secret (shown once, never stored) and its row."""

    token: str
    row: ApiToken


@dataclass(frozen=True)
class TokenRow:
    """An API token as its lists show it: never the secret, nor its digest."""

    id: int
    name: str
    account_id: int
    account_email: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "account_id": self.account_id,
            "account_email": self.account_email,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "expires_at": self.expires_at.isoformat(),
            "expired": self.expired,
        }


def token_days(rt: Runtime, expires_in_days: Any) -> int:
    """How long a new token lasts: the default, or what its owner asked for up to the maximum."""
    if expires_in_days in (None, ""):
        return rt.settings.token_days
    days = validate.integer(expires_in_days, "expires_in_days")
    most = rt.settings.token_max_days
    if not 1 <= days <= most:
        raise Invalid(
            "A token lasts from 1 to %(most)s days.", {"expires_in_days": "From 1 to %(most)s days."}, most=most
        )
    return days


async def issue_api_token(
    rt: Runtime, email: str, password: str, *, name: str = "", expires_in_days: Any = None, client: str = "local"
) -> Issued:
    """A token for a script that knows the account's password (POST /api/v1/auth/tokens)."""
    token_days(rt, expires_in_days)  # a bad request is refused before a password is tried
    account = await authenticate(rt, email, password, client=client)
    return await create_api_token(rt, account, name=name, expires_in_days=expires_in_days)


async def create_api_token(rt: Runtime, account: Account, *, name: Any = "", expires_in_days: Any = None) -> Issued:
    """A token for a logged-in account (its account page), named so its owner knows it again."""
    label = validate.text(name, "name", N_("The name"), TOKEN_NAME_LENGTH)
    now = datetime.now(UTC)
    token = new_token(ACCOUNT_TOKEN_PREFIX)
    row = ApiToken(
        account_id=account.id,
        name=label,
        token_hash=token_digest(token),
        created_at=now,
        expires_at=now + timedelta(days=token_days(rt, expires_in_days)),
    )
    async with rt.db.write() as db:
        db.add(row)
    return Issued(token, row)


async def by_api_token(rt: Runtime, token: str) -> Account | None:
    """The account behind a token; an expired token is refused with the day it ended."""
    now, digest = datetime.now(UTC), token_digest(token)
    async with rt.db.read() as db:
        found = (
            await db.execute(
                select(Account, ApiToken.id, ApiToken.expires_at, ApiToken.last_used_at)
                .join(ApiToken, ApiToken.account_id == Account.id)
                .where(ApiToken.token_hash == digest)
            )
        ).one_or_none()
    if found is None:
        return None
    account, token_id, expires_at, last_used_at = found
    if expires_at <= now:
        raise Unauthorized("This API token expired on %(day)s. Create a new one.", day=expires_at.date().isoformat())
    if last_used_at is None or last_used_at <= now - TOUCH_EVERY:
        async with rt.db.write() as db:
            await db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return account if account.active else None


async def list_api_tokens(
    rt: Runtime, *, account_id: int | None = None, page: Any = 1, per_page: Any = None
) -> paging.Page[TokenRow]:
    """API tokens newest first: one account's, or (None) everyone's, for admins."""
    query = (
        select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.account_id,
            Account.email,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.expires_at,
        )
        .join(Account, Account.id == ApiToken.account_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    if account_id is not None:
        query = query.where(ApiToken.account_id == account_id)
    async with rt.db.read() as db:
        found = await paging.fetch(db, query, page, per_page)
    return paging.Page([TokenRow(*row) for row in found.items], found.number, found.size, found.total)


async def api_token(rt: Runtime, actor: Account, token_id: Any) -> TokenRow:
    """One token, for its owner or an admin; anyone else is told it does not exist."""
    token_id = validate.integer(token_id, "token_id")
    async with rt.db.read() as db:
        row = await db.get(ApiToken, token_id)
        if row is None or (row.account_id != actor.id and actor.role is not Role.admin):
            raise NotFound("No such API token.")
        owner = await db.get(Account, row.account_id)
    assert owner is not None
    return TokenRow(row.id, row.name, row.account_id, owner.email, row.created_at, row.last_used_at, row.expires_at)


async def revoke_api_token(rt: Runtime, actor: Account, token_id: Any) -> TokenRow:
    """Delete a token (its owner or an admin): the next request with it is refused, on every
    server process at once, as tokens are looked up in the database each time."""
    found = await api_token(rt, actor, token_id)
    async with rt.db.write() as db:
        await db.execute(delete(ApiToken).where(ApiToken.id == found.id))
    return found


async def get(rt: Runtime, account_id: int) -> Account | None:
    async with rt.db.read() as db:
        return await db.get(Account, account_id)


async def by_email(rt: Runtime, email: str) -> Account | None:
    async with rt.db.read() as db:
        return await db.scalar(select(Account).where(Account.email == email.strip().lower()))


async def all_accounts(rt: Runtime) -> list[Account]:
    async with rt.db.read() as db:
        return list((await db.scalars(select(Account).order_by(Account.email))).all())


async def set_language(rt: Runtime, account_id: int, language: str) -> None:
    async with rt.db.write() as db:
        account = await db.get(Account, account_id)
        if account:
            account.language = language
