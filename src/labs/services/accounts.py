"""Accounts, browser login sessions and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from labs.errors import Conflict, Invalid, RateLimited, Unauthorized
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


async def remove_expired(rt: Runtime) -> Removed:
    """Delete every login session and API token that has ended (`labs cleanup`, from cron)."""
    now = datetime.now(UTC)
    async with rt.db.write() as db:
        logins = await db.execute(delete(LoginSession).where(_login_expired(rt, now)))
    return Removed(login_sessions=logins.rowcount or 0)  # type: ignore[attr-defined]


async def issue_api_token(rt: Runtime, email: str, password: str, *, client: str = "local") -> str:
    account = await authenticate(rt, email, password, client=client)
    token = new_token(ACCOUNT_TOKEN_PREFIX)
    async with rt.db.write() as db:
        db.add(ApiToken(account_id=account.id, token_hash=token_digest(token)))
    return token


async def by_api_token(rt: Runtime, token: str) -> Account | None:
    async with rt.db.read() as db:
        account = await db.scalar(
            select(Account)
            .join(ApiToken, ApiToken.account_id == Account.id)
            .where(ApiToken.token_hash == token_digest(token))
        )
    return account if account and account.active else None


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
