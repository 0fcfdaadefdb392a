"""API tokens on screen, in Chromium against `labs serve`: a facilitator makes a named token on
their account page, sees it once (copied with the button, gone after a reload), a script uses it,
they revoke it through the confirm form, and the script is refused at once. axe on each page."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_record_pages import serious
from tests.conftest import PASSWORD, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

expect = import_or_skip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def status_with(base_url: str, token: str) -> int:
    request = urllib.request.Request(base_url + "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_make_see_once_use_and_revoke_a_token(browser: Browser, live_server: LiveServer) -> None:
    email = "fac@example.org"
    live_server.create_user(email, "facilitator")  # with a token of its own, made through the API
    context = browser.new_context(base_url=live_server.base_url, viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_role("row", name="(no name)")).to_be_visible()
    problems = [p for p in [serious(page, "account page")] if p]

    page.get_by_label("Name").fill("City dashboard")
    page.get_by_label("Days until it expires").fill("30")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Copy it now: it is shown only this once.")).to_be_visible()
    token = page.get_by_label("The new token").input_value()
    assert token.startswith("lat_")
    page.get_by_role("button", name="Copy token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    expect(page.get_by_role("row", name="City dashboard")).to_be_visible()
    problems += [p for p in [serious(page, "new token")] if p]
    assert status_with(live_server.base_url, token) == 200

    page.goto("/account")  # shown once: not again
    expect(page.get_by_role("row", name="City dashboard")).to_be_visible()
    assert token not in page.content()

    page.get_by_role("row", name="City dashboard").get_by_role("link", name="Revoke").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the token “City dashboard”?")
    problems += [p for p in [serious(page, "confirm revoke")] if p]
    page.get_by_role("button", name="Revoke token").click()
    expect(page).to_have_url(live_server.base_url + "/account")
    expect(page.get_by_role("row", name="City dashboard")).to_have_count(0)
    expect(page.get_by_role("row", name="(no name)")).to_be_visible()
    assert status_with(live_server.base_url, token) == 401
    context.close()
    assert not problems, "\n".join(problems)
