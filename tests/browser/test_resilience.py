"""Bad venue Wi-Fi and a crashed server, in a real browser: notes typed while offline are kept on
the device and sent exactly once when the link is back; after a SIGKILL and restart every page
reconnects by itself, resumes from its last seq, and nothing acknowledged is lost."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, connected, log_in, new_context, note
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
pytestmark = pytest.mark.browser


def reconnected(page: Page) -> None:
    # hx-ws retries with backoff (capped at 5 s, plus jitter).
    expect(page.locator("#connection[data-state=connected]")).to_be_attached(timeout=15_000)


def notes_of(server: LiveServer, sid: int, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/sessions/{sid}/notes", headers={"authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return list(json.loads(response.read()))


def started_session(server: LiveServer) -> tuple[str, int, str]:
    token = server.create_user("fac@example.org")
    created = api(server, "/api/v1/sessions", token, {"title": "Wi-Fi lab", "agenda": [{"title": "Ideas"}]})
    api(server, f"/api/v1/sessions/{created['id']}/start", token, {})
    return token, created["id"], created["join_code"]


def join(browser: Browser, server: LiveServer, code: str, sid: int) -> tuple[Any, Page]:
    context = new_context(browser, server, **PHONE)
    page = context.new_page()
    page.goto(f"/j/{code}")
    page.fill("#f-display_name", "Noor")
    page.check("#consent-anonymous")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/p/{sid}$"))
    connected(page)
    return context, page


def post(page: Page, body: str) -> None:
    page.fill("#note-body", body)
    page.locator("#compose button[type=submit]").click()


def test_notes_typed_offline_are_sent_once_when_back(browser: Browser, live_server: LiveServer) -> None:
    token, sid, code = started_session(live_server)
    context, page = join(browser, live_server, code, sid)
    try:
        context.set_offline(True)
        expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
        post(page, "Typed in the basement")
        post(page, "And another one")
        expect(page.locator("#compose-status")).to_contain_text("will be sent")
        assert page.evaluate("JSON.parse(localStorage.getItem('labs-queue:' + location.pathname)).length") == 2
        assert notes_of(live_server, sid, token) == []

        context.set_offline(False)
        reconnected(page)
        expect(note(page, "Typed in the basement")).to_have_count(1)
        expect(note(page, "And another one")).to_have_count(1)
        # Exactly once, even though the queue was flushed by several triggers (online, reconnect, timer).
        page.wait_for_timeout(6_000)
        bodies = sorted(n["body"] for n in notes_of(live_server, sid, token))
        assert bodies == ["And another one", "Typed in the basement"]
        assert page.evaluate("localStorage.getItem('labs-queue:' + location.pathname)") == "[]"
    finally:
        context.close()


def test_pages_resume_after_the_server_is_killed(browser: Browser, live_server: LiveServer) -> None:
    token, sid, code = started_session(live_server)
    fac = new_context(browser, live_server)
    console = fac.new_page()
    log_in(console)
    console.goto(f"/sessions/{sid}/console")
    connected(console)
    context, page = join(browser, live_server, code, sid)
    try:
        post(page, "Before the crash")
        expect(note(console, "Before the crash")).to_have_count(1)

        live_server.kill()
        for view in (console, page):
            expect(view.locator("#connection")).not_to_have_attribute("data-state", "connected")
        post(page, "While the server was down")
        expect(page.locator("#compose-status")).to_contain_text("will be sent")

        live_server.start()
        for view in (console, page):
            reconnected(view)
            expect(note(view, "While the server was down")).to_have_count(1, timeout=20_000)
            expect(note(view, "Before the crash")).to_have_count(1)
        bodies = sorted(n["body"] for n in notes_of(live_server, sid, token))
        assert bodies == ["Before the crash", "While the server was down"]
    finally:
        context.close()
        fac.close()
