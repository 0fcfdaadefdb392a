"""Accounts through HTTP: first-run setup, login and logout, roles, CSRF, admin account creation,
API tokens and the interface language."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labs.services import accounts
from tests.conftest import PASSWORD, api_token, csrf, login, make_account

Client = AsyncTestClient[Litestar]


def set_cookies(response: Any) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_cookie_header(response: Any) -> str:
    found = [c for c in set_cookies(response) if c.startswith("labs_session=")]
    assert found, set_cookies(response)
    return found[0]


async def form_post(client: Client, url: str, data: dict[str, str], **kw: Any) -> Any:
    """POST a form the way a browser does: with the CSRF token from the cookie as a field."""
    return await client.post(url, data={**data, "_csrf_token": client.cookies.get("labs_csrf", "")}, **kw)


async def setup_admin(client: Client, email: str = "admin@example.org") -> Any:
    await client.get("/setup")
    return await form_post(
        client,
        "/setup",
        {"display_name": "Ada Admin", "email": email, "password": PASSWORD},
        follow_redirects=False,
    )


# --- first run -----------------------------------------------------------------------------


async def test_empty_database_sends_home_to_setup(client: Client) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/setup"
    login_page = await client.get("/login", follow_redirects=False)
    assert login_page.headers["location"] == "/setup"


async def test_home_for_anonymous_visitors(client: Client, rt: Any) -> None:
    await make_account(rt)
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 200
    assert 'action="/join"' in response.text and 'name="code"' in response.text
    assert 'href="/login"' in response.text


async def test_setup_creates_first_admin_and_logs_in(client: Client, rt: Any) -> None:
    page = await client.get("/setup")
    assert page.status_code == 200
    assert 'name="_csrf_token"' in page.text
    assert "at least 10 characters" in page.text.lower()

    response = await setup_admin(client)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/sessions"
    cookie = session_cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie

    admin = await accounts.by_email(rt, "admin@example.org")
    assert admin is not None and admin.role.value == "admin" and admin.display_name == "Ada Admin"
    # Logged in: the sessions page (and the admin pages) open.
    assert (await client.get("/sessions", follow_redirects=False)).status_code == 200
    assert (await client.get("/admin/accounts", follow_redirects=False)).status_code == 200
    home = await client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/sessions"


async def test_setup_refuses_a_second_time(client: Client, app: Litestar, rt: Any) -> None:
    assert (await setup_admin(client)).status_code in (302, 303)
    async with AsyncTestClient(app=app) as other:
        again = await other.get("/setup", follow_redirects=False)
        assert again.status_code in (302, 303) and again.headers["location"] == "/login"
        second = await setup_admin(other, email="intruder@example.org")
        assert second.status_code == 409
        assert "Setup is already done" in second.text
        assert "labs_session=" not in " ".join(set_cookies(second))
    assert await accounts.by_email(rt, "intruder@example.org") is None
    assert await accounts.count(rt) == 1


async def test_setup_rejects_weak_password(client: Client, rt: Any) -> None:
    await client.get("/setup")
    response = await form_post(client, "/setup", {"email": "a@example.org", "password": "short"})
    assert response.status_code == 400
    assert "at least 10 characters" in response.text
    assert 'aria-invalid="true"' in response.text
    assert await accounts.count(rt) == 0


# --- login and logout ----------------------------------------------------------------------


async def test_login_failures_look_the_same(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await client.get("/login")
    wrong = await form_post(client, "/login", {"email": account.email, "password": "wrong password!"})
    unknown = await form_post(client, "/login", {"email": "nobody@example.org", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert accounts.WRONG_LOGIN in wrong.text
    assert accounts.WRONG_LOGIN in unknown.text
    assert "labs_session=" not in " ".join(set_cookies(wrong) + set_cookies(unknown))
    # The email stays filled in, the password never comes back.
    assert f'value="{account.email}"' in wrong.text
    assert "wrong password!" not in wrong.text


async def test_login_goes_to_the_role_home_or_next(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt, "facilitator")
    researcher = await make_account(rt, "researcher")
    await client.get("/login")
    response = await form_post(
        client, "/login", {"email": facilitator.email, "password": PASSWORD}, follow_redirects=False
    )
    assert response.headers["location"] == "/sessions"
    response = await form_post(
        client, "/login", {"email": researcher.email, "password": PASSWORD}, follow_redirects=False
    )
    assert response.headers["location"] == "/research"
    response = await form_post(
        client,
        "/login",
        {"email": facilitator.email, "password": PASSWORD, "next": "/cases"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/cases"
    # Never to another site.
    response = await form_post(
        client,
        "/login",
        {"email": facilitator.email, "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/sessions"


async def test_login_page_keeps_next(client: Client, rt: Any) -> None:
    await make_account(rt)
    page = await client.get("/login?next=/cases")
    assert page.status_code == 200
    assert 'name="next" value="/cases"' in page.text


async def test_login_rotates_the_session_id(client: Client, app: Litestar, rt: Any) -> None:
    account = await make_account(rt)
    await client.get("/login")
    first = await form_post(client, "/login", {"email": account.email, "password": PASSWORD}, follow_redirects=False)
    old = client.cookies.get("labs_session")
    second = await form_post(client, "/login", {"email": account.email, "password": PASSWORD}, follow_redirects=False)
    new = client.cookies.get("labs_session")
    assert first.status_code in (302, 303) and second.status_code in (302, 303)
    assert old and new and old != new
    assert (await client.get("/sessions", follow_redirects=False)).status_code == 200
    async with AsyncTestClient(app=app) as stale:
        stale.cookies.set("labs_session", old)
        response = await stale.get("/sessions", follow_redirects=False)
        assert response.status_code in (302, 303)
        assert response.headers["location"].startswith("/login")


async def test_logout_ends_the_login_session(client: Client, app: Litestar, rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    sid = client.cookies.get("labs_session")
    assert sid
    response = await client.post("/logout", headers=csrf(client), follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login"
    assert any(c.startswith("labs_session=") and "max-age=0" in c.lower() for c in set_cookies(response))
    async with AsyncTestClient(app=app) as stale:
        stale.cookies.set("labs_session", sid)
        assert (await stale.get("/sessions", follow_redirects=False)).status_code in (302, 303)


# --- access control and CSRF ---------------------------------------------------------------


async def test_post_without_csrf_token_is_refused(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    before = await accounts.count(rt)
    data = {"email": "new@example.org", "password": PASSWORD, "role": "facilitator", "display_name": "New"}
    response = await client.post("/admin/accounts", data=data, follow_redirects=False)
    assert response.status_code == 403
    response = await client.post("/admin/accounts", data={**data, "_csrf_token": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    assert await accounts.count(rt) == before
    assert await accounts.by_email(rt, "new@example.org") is None


async def test_login_without_csrf_token_is_refused(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    await client.get("/login")
    response = await client.post("/login", data={"email": account.email, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "labs_session=" not in " ".join(set_cookies(response))


async def test_anonymous_is_sent_to_login(client: Client, rt: Any) -> None:
    await make_account(rt)
    for path in ("/sessions", "/sessions/new", "/admin/accounts", "/research", "/cases"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303), path
        assert response.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("researcher", "/sessions", 403),
        ("researcher", "/sessions/new", 403),
        ("researcher", "/admin/accounts", 403),
        ("researcher", "/research", 200),
        ("facilitator", "/admin/accounts", 403),
        ("facilitator", "/research", 200),  # the research views of the sessions they run
        ("facilitator", "/sessions", 200),
        ("facilitator", "/cases", 200),
        ("admin", "/admin/accounts", 200),
        ("admin", "/research", 200),
    ],
)
async def test_roles(client: Client, rt: Any, role: str, path: str, status: int) -> None:
    account = await make_account(rt, role)
    await login(client, account.email)
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == status, response.text


# --- admin: accounts -----------------------------------------------------------------------


async def test_admin_creates_an_account(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    page = await client.get("/admin/accounts")
    assert admin.email in page.text
    response = await form_post(
        client,
        "/admin/accounts",
        {
            "display_name": "Fay Facilitator",
            "email": "Fay@Example.org",
            "password": PASSWORD,
            "role": "facilitator",
        },
        follow_redirects=False,
    )
    assert response.status_code in (302, 303)
    created = await accounts.by_email(rt, "fay@example.org")
    assert created is not None and created.role.value == "facilitator"
    page = await client.get("/admin/accounts")
    assert "Fay Facilitator" in page.text and "fay@example.org" in page.text


async def test_admin_create_duplicate_email(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    taken = await make_account(rt, "facilitator")
    await login(client, admin.email)
    await client.get("/admin/accounts")
    before = await accounts.count(rt)
    response = await form_post(
        client,
        "/admin/accounts",
        {
            "display_name": "Dup",
            "email": taken.email.upper(),
            "password": PASSWORD,
            "role": "facilitator",
        },
    )
    assert response.status_code == 409
    assert "An account with this email already exists." in response.text
    assert "This email is taken." in response.text
    assert 'aria-invalid="true"' in response.text
    assert await accounts.count(rt) == before


async def test_admin_create_weak_password(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    await client.get("/admin/accounts")
    before = await accounts.count(rt)
    response = await form_post(
        client,
        "/admin/accounts",
        {
            "display_name": "Weak",
            "email": "weak@example.org",
            "password": "aaaaaaaaaaaa",
            "role": "researcher",
        },
    )
    assert response.status_code == 400
    assert "The password must not repeat the same few characters." in response.text
    # What was typed stays (except the password).
    assert 'value="weak@example.org"' in response.text
    assert "aaaaaaaaaaaa" not in response.text
    assert await accounts.count(rt) == before


# --- API tokens ----------------------------------------------------------------------------


async def test_api_token(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    response = await client.post("/api/v1/auth/tokens", json={"email": account.email, "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "id", "name", "expires_at"} and body["token"].startswith("lat_")
    headers = await api_token(client, account.email)
    assert headers["Authorization"] != f"Bearer {body['token']}"  # a new token each time
    listed = await client.get("/api/v1/sessions", headers=headers)
    assert listed.status_code == 200 and listed.json() == []
    # A bearer token never logs in the browser pages.
    assert "labs_session" not in client.cookies


async def test_api_token_wrong_password(client: Client, rt: Any) -> None:
    account = await make_account(rt)
    for email, password in ((account.email, "not the password"), ("nobody@example.org", PASSWORD)):
        response = await client.post("/api/v1/auth/tokens", json={"email": email, "password": password})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["detail"] == accounts.WRONG_LOGIN
    assert (await client.get("/api/v1/sessions", headers={"Authorization": "Bearer lat_bogus"})).status_code == 401


# --- language ------------------------------------------------------------------------------


async def test_accept_language_dutch(client: Client, rt: Any) -> None:
    await make_account(rt)
    response = await client.get("/login", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert '<html lang="nl">' in response.text
    assert "Inloggen" in response.text
    english = await client.get("/login", headers={"Accept-Language": "en-GB"})
    assert '<html lang="en">' in english.text


async def test_language_cookie_wins(client: Client, rt: Any) -> None:
    await make_account(rt)
    response = await client.get("/lang/en?next=/login", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login"
    assert any(c.startswith("labs_lang=en") for c in set_cookies(response))
    page = await client.get("/login", headers={"Accept-Language": "nl"})
    assert '<html lang="en">' in page.text
    await client.get("/lang/nl", follow_redirects=False)
    page = await client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="nl">' in page.text


async def test_unknown_language_is_refused(client: Client) -> None:
    response = await client.get("/lang/xx", follow_redirects=False)
    assert response.status_code == 400
