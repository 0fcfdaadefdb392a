"""The facilitator's brakes in a real browser. Pre-moderation: a note posted from a phone waits
(its author sees it marked, the other phone and the projector see nothing), the facilitator
approves it from the console's queue, and it appears on every wall live; one phone reads Dutch.
Removal: two deliberate steps on the console, and the removed phone says so at once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, connected, log_in, new_context, note
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

expect = import_or_skip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

WAITING = "A bench by the river"


def test_a_waiting_note_is_approved_from_the_console(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    created = api(
        live_server,
        "/api/v1/sessions",
        token,
        {"title": "River lab", "premoderation": True, "agenda": [{"title": "Ideas", "minutes": 10}]},
    )
    sid, code = created["id"], created["join_code"]
    api(live_server, f"/api/v1/sessions/{sid}/start", token, {})
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def track(page: Page, name: str) -> Page:
        page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
        return page

    try:
        fac = new_context(browser, live_server)
        contexts.append(fac)
        console = track(fac.new_page(), "console")
        log_in(console)
        console.goto(f"/sessions/{sid}/console")
        projector = track(fac.new_page(), "projector")
        projector.goto(f"/sessions/{sid}/projector")

        phones: list[Page] = []
        for name, locale in (("Ana", "en-GB"), ("Bram", "nl-NL")):
            ctx = new_context(browser, live_server, locale=locale, **PHONE)
            contexts.append(ctx)
            phone = track(ctx.new_page(), name)
            phone.goto(f"/j/{code}")
            phone.fill("#f-display_name", name)
            phone.check("#consent-named")
            phone.locator("main form button[type=submit]").click()
            phone.wait_for_url(re.compile(rf"/p/{sid}$"))
            phones.append(phone)
        ana, bram = phones
        for page in (console, projector, ana, bram):
            connected(page)
        expect(ana.locator("#session-status")).to_contain_text("Notes appear on the wall once a facilitator")
        expect(bram.locator("#session-status")).to_contain_text("Notities verschijnen op de wand zodra")

        # Ana posts: her phone marks it waiting; nobody else's wall has it.
        ana.fill("#note-body", WAITING)
        ana.locator("#compose button[type=submit]").click()
        waiting = ana.locator("#my-pending .waiting-note", has_text=WAITING)
        expect(waiting).to_contain_text("Waiting for approval")
        queue = console.locator("#queue")
        expect(queue.locator("li", has_text=WAITING)).to_be_visible()
        expect(queue.locator("h2 .badge")).to_have_text("1")
        for page in (bram, projector, ana):
            expect(note(page, WAITING)).to_have_count(0)
        expect(bram.get_by_text(WAITING)).to_have_count(0)

        # Approved from the queue, by keyboard: it appears everywhere, and leaves Ana's waiting list.
        approve = queue.get_by_role("button", name="Approve")
        approve.focus()
        console.keyboard.press("Enter")
        for page in (ana, bram, projector, console):
            expect(note(page, WAITING)).to_have_count(1)
        expect(waiting).to_have_count(0)
        expect(queue.locator("h2 .badge")).to_have_text("0")
        assert not errors, errors
    finally:
        for ctx in contexts:
            ctx.close()


def test_a_removed_phone_says_so_at_once(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    created = api(live_server, "/api/v1/sessions", token, {"title": "River lab", "agenda": [{"title": "Ideas"}]})
    sid, code = created["id"], created["join_code"]
    api(live_server, f"/api/v1/sessions/{sid}/start", token, {})
    fac = new_context(browser, live_server)
    phone_ctx = new_context(browser, live_server, **PHONE)
    try:
        console = fac.new_page()
        log_in(console)
        phone = phone_ctx.new_page()
        phone.goto(f"/j/{code}")
        phone.fill("#f-display_name", "Spammer")
        phone.check("#consent-named")
        phone.locator("main form button[type=submit]").click()
        phone.wait_for_url(re.compile(rf"/p/{sid}$"))
        connected(phone)
        console.goto(f"/sessions/{sid}/console")
        connected(console)

        # Two deliberate steps, by keyboard: open the disclosure, choose what happens to the notes, confirm.
        person = console.locator("#roster li", has_text="Spammer")
        person.locator("summary").focus()
        console.keyboard.press("Enter")
        person.get_by_label("Remove their notes too").check()
        person.get_by_role("button", name="Remove from the session").click()
        expect(console.locator("#roster li", has_text="Spammer")).to_have_count(0)

        # The phone is told at once, and a reload says the same (no login, no join form).
        expect(phone.locator("#removed-title")).to_have_text("You were removed from this session")
        expect(phone.locator("#live-link")).to_have_count(0)
        phone.reload()
        expect(phone.locator("#removed-title")).to_have_text("You were removed from this session")
        phone.goto(f"/j/{code}")
        expect(phone.locator("#removed-title")).to_be_visible()
    finally:
        fac.close()
        phone_ctx.close()
