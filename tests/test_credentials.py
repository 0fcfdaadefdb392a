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
from labs.models import ApiToken, LoginSession
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
    async with AsyncTestClient(app=app) as client:
        made = [(await new_token(client, account.email, name=n)).json() for n in ("old", "young")]
    await age_token(rt, made[0]["id"], timedelta(days=90))
    await age_token(rt, made[1]["id"], timedelta(days=89))
    result = cleanup(settings)
    assert result.returncode == 0, result.stderr
    assert "Removed 2 ended login session(s) and 1 expired API token(s)." in result.stdout
    assert {r.token_hash for r in await logins(rt)} == {token_digest(secrets[0]), token_digest(secrets[3])}
    assert [t.name for t in await tokens_in_db(rt)] == ["young"]
    again = cleanup(settings)  # from cron, again and again: nothing more to do
    assert again.returncode == 0 and "Removed 0 ended login session(s) and 0 expired" in again.stdout
    async with AsyncTestClient(app=app) as survivor:
        survivor.cookies.set("labs_session", secrets[3])
        assert await logged_in(survivor)
        assert (await survivor.get("/api/v1/auth/tokens", headers=bearer(made[1]["token"]))).status_code == 200


# --- API tokens ----------------------------------------------------------------------------


async def new_token(client: Client, email: str, **body: Any) -> Any:
    return await client.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, **body})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def tokens_in_db(rt: Any) -> list[ApiToken]:
    async with rt.db.read() as db:
        return list((await db.scalars(select(ApiToken).order_by(ApiToken.id))).all())


async def age_token(rt: Any, token_id: int, by: timedelta) -> None:
    """Move a token's expiry earlier by `by`."""
    async with rt.db.write() as db:
        row = await db.get(ApiToken, token_id)
        row.expires_at -= by


def about(when: str, days: int) -> bool:
    return abs(datetime.fromisoformat(when) - (datetime.now(UTC) + timedelta(days=days))) < timedelta(minutes=1)


async def test_a_token_has_a_name_and_expires(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    default = await new_token(client, account.email)
    assert default.status_code == 201, default.text
    assert about(default.json()["expires_at"], 90) and default.json()["name"] == ""
    named = await new_token(client, account.email, name="Dashboard", expires_in_days=7)
    assert named.status_code == 201 and named.json()["name"] == "Dashboard"
    assert about(named.json()["expires_at"], 7)
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(named.json()["token"]))).status_code == 200
    for bad in ({"expires_in_days": 0}, {"expires_in_days": 366}, {"name": "x" * 121}, {"expires_in_days": "soon"}):
        refused = await new_token(client, account.email, **bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["detail"]
    assert len(await tokens_in_db(rt)) == 2
    await age_token(rt, named.json()["id"], timedelta(days=7))
    expired = await client.get("/api/v1/auth/tokens", headers=bearer(named.json()["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"] and "Create a new one" in expired.json()["detail"]
    stream = await client.post("/api/v1/sessions", json={"title": "x"}, headers=bearer(named.json()["token"]))
    assert stream.status_code == 401 and "expired" in stream.json()["detail"]


async def test_the_longest_lifetime_is_configurable(settings: Settings, monkeypatch: Any) -> None:
    monkeypatch.setenv("LABS_TOKEN_DAYS", "30")
    monkeypatch.setenv("LABS_TOKEN_MAX_DAYS", "60")
    app = create_app(settings_from_env(settings))
    account = await make_account(app.state.runtime)
    async with AsyncTestClient(app=app) as client:
        assert about((await new_token(client, account.email)).json()["expires_at"], 30)
        assert (await new_token(client, account.email, expires_in_days=61)).status_code == 400
        assert (await new_token(client, account.email, expires_in_days=60)).status_code == 201
    await app.state.runtime.db.dispose()


async def test_owners_list_and_revoke_their_tokens_admins_anyones(client: Client, rt: Any) -> None:
    alice, bob, admin = await make_account(rt), await make_account(rt), await make_account(rt, "admin")
    first = (await new_token(client, alice.email, name="first")).json()
    second = (await new_token(client, alice.email, name="second")).json()
    bobs = (await new_token(client, bob.email, name="bob's")).json()
    admins = (await new_token(client, admin.email)).json()
    mine = await client.get("/api/v1/auth/tokens?per_page=1", headers=bearer(first["token"]))
    assert mine.status_code == 200
    assert [t["name"] for t in mine.json()["items"]] == ["second"]  # newest first
    assert (mine.json()["total"], mine.json()["pages"]) == (2, 2)
    listed = await client.get("/api/v1/auth/tokens", headers=bearer(first["token"]))
    assert [t["name"] for t in listed.json()["items"]] == ["second", "first"]
    item = listed.json()["items"][1]
    assert set(item) >= {"id", "name", "created_at", "last_used_at", "expires_at"}
    assert item["last_used_at"]  # the call that listed it used it
    for secret in (first["token"], second["token"], token_digest(first["token"]), token_digest(second["token"])):
        assert secret not in listed.text

    # Someone else's token is no token at all; revoking it does nothing.
    assert (await client.delete(f"/api/v1/auth/tokens/{bobs['id']}", headers=bearer(first["token"]))).status_code == 404
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(bobs["token"]))).status_code == 200
    assert (await client.get("/api/v1/admin/tokens", headers=bearer(first["token"]))).status_code == 403

    # The owner revokes one: it is refused on the very next request.
    gone = await client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=bearer(first["token"]))
    assert gone.status_code == 204
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(second["token"]))).status_code == 401
    again = await client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=bearer(first["token"]))
    assert again.status_code == 404

    # An admin sees everyone's, one account's on asking, and revokes anyone's.
    everyone = await client.get("/api/v1/admin/tokens", headers=bearer(admins["token"]))
    assert {t["name"] for t in everyone.json()["items"]} == {"first", "bob's", ""}
    only_bob = await client.get(f"/api/v1/admin/tokens?account_id={bob.id}", headers=bearer(admins["token"]))
    assert [(t["name"], t["account_email"]) for t in only_bob.json()["items"]] == [("bob's", bob.email)]
    revoked = await client.delete(f"/api/v1/auth/tokens/{bobs['id']}", headers=bearer(admins["token"]))
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(bobs["token"]))).status_code == 401
    assert [t.name for t in await tokens_in_db(rt)] == ["first", ""]


async def test_last_use_is_written_only_every_few_minutes(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    made = (await new_token(client, account.email)).json()
    (row,) = await tokens_in_db(rt)
    assert row.last_used_at is None
    await client.get("/api/v1/auth/tokens", headers=bearer(made["token"]))
    (used,) = await tokens_in_db(rt)
    assert used.last_used_at is not None
    await client.get("/api/v1/auth/tokens", headers=bearer(made["token"]))
    (again,) = await tokens_in_db(rt)
    assert again.last_used_at == used.last_used_at


# --- the screens ---------------------------------------------------------------------------


def form(client: Client, **fields: Any) -> dict[str, Any]:
    return {**fields, "_csrf_token": client.cookies.get("labs_csrf", "")}


async def test_the_account_page_makes_shows_once_and_revokes_a_token(client: Client, rt: Any) -> None:
    account = await make_account(rt, "researcher")
    await login(client, account.email)
    page = await client.get("/account")
    assert page.status_code == 200 and "API tokens" in page.text and "No API tokens." in page.text
    made = await client.post("/account/tokens", data=form(client, name="R scripts", expires_in_days="30"))
    assert made.status_code == 200
    ((token_id, token_hash),) = [(t.id, t.token_hash) for t in await tokens_in_db(rt)]
    shown = [t for t in made.text.split('"') if t.startswith("lat_")]
    assert len(shown) == 1 and token_digest(shown[0]) == token_hash
    assert "shown only this once" in made.text
    again = await client.get("/account")
    assert "R scripts" in again.text and shown[0] not in again.text and token_hash not in again.text
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(shown[0]))).status_code == 200

    refused = await client.post("/account/tokens", data=form(client, name="Too long", expires_in_days="9999"))
    assert refused.status_code == 400 and "From 1 to 365 days." in refused.text
    assert len(await tokens_in_db(rt)) == 1

    confirm = await client.get(f"/account/tokens/{token_id}/revoke?next=/account")
    assert confirm.status_code == 200 and "Revoke the token “R scripts”?" in confirm.text
    assert len(await tokens_in_db(rt)) == 1  # asking is not revoking
    done = await client.post(
        f"/account/tokens/{token_id}/revoke", data=form(client, next="/account"), follow_redirects=False
    )
    assert done.status_code == 302 and done.headers["location"] == "/account"
    assert await tokens_in_db(rt) == []
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(shown[0]))).status_code == 401


async def test_the_admin_page_lists_and_revokes_everyones_tokens(client: Client, app: Litestar, rt: Any) -> None:
    alice, bob, admin = await make_account(rt), await make_account(rt), await make_account(rt, "admin")
    await new_token(client, alice.email, name="alice-dash")
    bobs = (await new_token(client, bob.email, name="bob-sync")).json()
    async with AsyncTestClient(app=app) as other:
        await login(other, alice.email)
        assert (await other.get("/admin/tokens", follow_redirects=False)).status_code == 403
        # Someone else's token: not found, on the confirm page and on the form.
        assert (await other.get(f"/account/tokens/{bobs['id']}/revoke")).status_code == 404
        response = await other.post(f"/account/tokens/{bobs['id']}/revoke", data=form(other))
        assert response.status_code == 404 and len(await tokens_in_db(rt)) == 2
    await login(client, admin.email)
    listing = await client.get("/admin/tokens")
    assert "alice-dash" in listing.text and "bob-sync" in listing.text and bob.email in listing.text
    only_bob = await client.get(f"/admin/tokens?account_id={bob.id}")
    assert "bob-sync" in only_bob.text and "alice-dash" not in only_bob.text
    assert (await client.get("/admin/tokens?account_id=")).status_code == 200  # "All accounts"
    confirm = await client.get(f"/account/tokens/{bobs['id']}/revoke?next=/admin/tokens")
    assert confirm.status_code == 200 and bob.email in confirm.text
    done = await client.post(
        f"/account/tokens/{bobs['id']}/revoke", data=form(client, next="/admin/tokens"), follow_redirects=False
    )
    assert done.status_code == 302 and done.headers["location"] == "/admin/tokens"
    assert [t.name for t in await tokens_in_db(rt)] == ["alice-dash"]
    assert (await client.get("/api/v1/auth/tokens", headers=bearer(bobs["token"]))).status_code == 401


async def test_the_token_screens_speak_dutch(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    client.cookies.set("labs_lang", "nl")
    made = await client.post("/account/tokens", data=form(client, name="Dashboard", expires_in_days="5"))
    assert "Mijn account" in made.text and "API-tokens" in made.text and "alleen deze ene keer" in made.text
    listing = await client.get("/admin/tokens")
    assert "Alle accounts" in listing.text and "Intrekken" in listing.text
