"""What a stolen database, a forgotten laptop and a leaked token can do, through HTTP and the CLI:
login sessions are stored as digests and end when idle or old, `labs cleanup` removes what has
ended, and API tokens expire, are listed and can be revoked by their owner and by an admin."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from labs.app import create_app
from labs.models import LoginSession
from labs.services.credentials import token_digest
from labs.settings import Settings
from tests.conftest import PASSWORD, login, make_account
from tests.test_cli import LABS

Client = AsyncTestClient[Litestar]


async def logins(rt: Any) -> list[LoginSession]:
    async with rt.db.read() as db:
        return list((await db.scalars(select(LoginSession))).all())


async def age_login(rt: Any, secret: str, **moved: timedelta) -> None:
    """Move a login session's clock back: last_seen_at / expires_at earlier by the given amounts."""
    digest = token_digest(secret)
    async with rt.db.write() as db:
        row = await db.get(LoginSession, digest)
        assert row is not None
        for column, by in moved.items():
            setattr(row, column, getattr(row, column) - by)


async def logged_in(client: Client) -> bool:
    response = await client.get("/sessions", follow_redirects=False)
    assert response.status_code in (200, 302), response.text
    return response.status_code == 200


# --- login sessions ------------------------------------------------------------------------


async def test_the_cookie_secret_is_not_in_the_database(client: Client, rt: Any, settings: Settings) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    secret = client.cookies.get("labs_session")
    assert secret and await logged_in(client)
    rows = await logins(rt)
    assert [r.token_hash for r in rows] == [token_digest(secret)]
    assert all(secret not in str(vars(r)) for r in rows)
    if settings.is_sqlite:
        await rt.db.dispose()  # everything on disk, in the database file and its write-ahead log
        folder = Path(settings.database_url.split("///", 1)[1]).parent
        for path in folder.glob("labs.db*"):
            assert secret.encode() not in path.read_bytes(), path.name


async def test_a_login_ends_after_idle_hours(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    secret = client.cookies.get("labs_session", "")
    await age_login(rt, secret, last_seen_at=timedelta(hours=11, minutes=50))
    assert await logged_in(client)  # within 12 hours: alive, and the visit counts as activity ...
    await age_login(rt, secret, last_seen_at=timedelta(hours=11, minutes=50))
    assert await logged_in(client)  # ... so 11h50 after that visit it is still alive
    await age_login(rt, secret, last_seen_at=timedelta(hours=12, minutes=1))
    assert not await logged_in(client)


async def test_a_login_ends_after_max_days_however_busy(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    secret = client.cookies.get("labs_session", "")
    (row,) = await logins(rt)
    assert row.expires_at - row.created_at == timedelta(days=14)
    await age_login(rt, secret, expires_at=timedelta(days=13, hours=23))
    assert await logged_in(client)
    await age_login(rt, secret, expires_at=timedelta(hours=1, seconds=1))
    assert not await logged_in(client)


async def test_last_seen_is_written_only_every_few_minutes(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    secret = client.cookies.get("labs_session", "")
    await age_login(rt, secret, last_seen_at=timedelta(minutes=2))
    (before,) = await logins(rt)
    assert await logged_in(client)
    (after,) = await logins(rt)
    assert after.last_seen_at == before.last_seen_at  # a page load is not a write
    await age_login(rt, secret, last_seen_at=timedelta(minutes=4))
    assert await logged_in(client)
    (after,) = await logins(rt)
    assert datetime.now(UTC) - after.last_seen_at < timedelta(minutes=1)


def settings_from_env(settings: Settings) -> Settings:
    """The test's settings, with the lifetimes read from the environment again."""
    lifetimes = ("login_idle_hours", "login_max_days", "token_days", "token_max_days")
    kept = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings) if f.name not in lifetimes}
    return Settings(**kept)


async def test_lifetimes_come_from_the_environment(settings: Settings, monkeypatch: Any) -> None:
    monkeypatch.setenv("LABS_LOGIN_IDLE_HOURS", "1")
    monkeypatch.setenv("LABS_LOGIN_MAX_DAYS", "2")
    app = create_app(settings_from_env(settings))
    rt = app.state.runtime
    account = await make_account(rt)
    async with AsyncTestClient(app=app) as client:
        await client.get("/login")
        form = {"email": account.email, "password": PASSWORD, "_csrf_token": client.cookies.get("labs_csrf", "")}
        response = await client.post("/login", data=form, follow_redirects=False)
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("labs_session="))
        assert "max-age=172800" in cookie.lower()
        (row,) = await logins(rt)
        assert row.expires_at - row.created_at == timedelta(days=2)
        await age_login(rt, client.cookies.get("labs_session", ""), last_seen_at=timedelta(minutes=61))
        assert not await logged_in(client)
    await rt.db.dispose()
    monkeypatch.setenv("LABS_LOGIN_IDLE_HOURS", "soon")
    with pytest.raises(ValueError, match="LABS_LOGIN_IDLE_HOURS"):
        settings_from_env(settings)


async def test_logging_in_removes_that_accounts_ended_logins(app: Litestar, rt: Any) -> None:
    mine, theirs = await make_account(rt), await make_account(rt)
    secrets: dict[str, str] = {}
    for name, account in [("old", mine), ("theirs", theirs), ("kept", mine)]:
        async with AsyncTestClient(app=app) as other:
            await login(other, account.email)
            secrets[name] = other.cookies.get("labs_session", "")
    await age_login(rt, secrets["old"], last_seen_at=timedelta(days=1))
    await age_login(rt, secrets["theirs"], expires_at=timedelta(days=15))
    async with AsyncTestClient(app=app) as client:
        await login(client, mine.email)
        secrets["new"] = client.cookies.get("labs_session", "")
    left = {r.token_hash for r in await logins(rt)}
    assert left == {token_digest(secrets[n]) for n in ("theirs", "kept", "new")}


async def test_logout_deletes_the_row(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    assert len(await logins(rt)) == 1
    await client.post("/logout", headers={"x-csrftoken": client.cookies.get("labs_csrf", "")})
    assert await logins(rt) == []


def cleanup(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABS_")}
    env.update(LABS_DATA_DIR=str(settings.data_dir), LABS_DATABASE_URL=settings.database_url)
    env.update(LABS_SECRET_KEY="test-secret")
    return subprocess.run([*LABS, "cleanup"], env=env, capture_output=True, text=True, timeout=120)


async def test_cleanup_removes_only_what_has_ended(app: Litestar, rt: Any, settings: Settings, migrated: str) -> None:
    account = await make_account(rt)
    secrets = []
    for _ in range(4):
        async with AsyncTestClient(app=app) as other:
            await login(other, account.email)
            secrets.append(other.cookies.get("labs_session", ""))
    await age_login(rt, secrets[1], last_seen_at=timedelta(hours=13))
    await age_login(rt, secrets[2], expires_at=timedelta(days=15))
    await age_login(rt, secrets[3], last_seen_at=timedelta(hours=11), expires_at=timedelta(days=13))
    result = cleanup(settings)
    assert result.returncode == 0, result.stderr
    assert "Removed 2 ended login session(s)." in result.stdout
    assert {r.token_hash for r in await logins(rt)} == {token_digest(secrets[0]), token_digest(secrets[3])}
    again = cleanup(settings)  # from cron, again and again: nothing more to do
    assert again.returncode == 0 and "Removed 0 ended login session(s)." in again.stdout
    async with AsyncTestClient(app=app) as survivor:
        survivor.cookies.set("labs_session", secrets[3])
        assert await logged_in(survivor)
