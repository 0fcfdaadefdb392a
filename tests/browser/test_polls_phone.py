"""A poll and a rating scale in a real browser: the facilitator asks them from the console, two
participants answer on phones (one changes their mind), results stay hidden until revealed and
then show as bars with counts on the phones and the projector. Axe on the phone and the console."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, connected, format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser


def test_poll_and_scale_on_phones(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    created = api(live_server, "/api/v1/sessions", token, {"title": "Energy evening", "agenda": [{"title": "Welcome"}]})
    sid, code = created["id"], created["join_code"]
    options = ["Solar roofs", "Insulation", "Heat pumps"]
    poll = {"kind": "single", "question": "What should we try first?", "options": options}
    api(live_server, f"/api/v1/sessions/{sid}/polls", token, poll)
    api(live_server, f"/api/v1/sessions/{sid}/start", token, {})
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    axe, axe_failures = Axe(), []

    def check_axe(name: str, page: Page) -> None:
        bad = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            axe_failures.append(format_violations(f"{name} ({page.url})", bad))

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
        for name in ("Noor", "Sam"):
            ctx = new_context(browser, live_server, **PHONE)
            contexts.append(ctx)
            page = track(ctx.new_page(), name)
            page.goto(f"/j/{code}")
            page.fill("#f-display_name", name)
            page.check("#consent-anonymous")
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(re.compile(rf"/p/{sid}$"))
            phones.append(page)
        for page in (console, projector, *phones):
            connected(page)

        # --- the poll: go to it, open it, answer on the phones --------------------------------
        console.locator("#agenda li", has_text="What should we try first?").get_by_role("button").click()
        for page in (projector, *phones):
            expect(page.locator("#poll")).to_have_attribute("data-status", "ready")
        console.get_by_role("button", name="Open the poll").click()
        for page in phones:
            expect(page.locator("#poll")).to_have_attribute("data-status", "open")
        phones[0].get_by_label("Insulation").check()
        phones[0].get_by_role("button", name="Send my answer").click()
        expect(phones[0].locator("#my-poll")).to_contain_text("Your answer: Insulation.")
        phones[1].get_by_label("Solar roofs").check()
        phones[1].get_by_role("button", name="Send my answer").click()
        expect(phones[1].locator("#my-poll")).to_contain_text("Your answer: Solar roofs.")
        phones[1].get_by_label("Insulation").check()  # changes their mind while it is open
        phones[1].get_by_role("button", name="Send my answer").click()
        expect(phones[1].locator("#my-poll")).to_contain_text("Your answer: Insulation.")
        for page in (console, projector, *phones):
            expect(page.locator("#poll-count")).to_contain_text("2 answers")
        # Hidden until revealed: no bars outside the console.
        for page in (projector, *phones):
            expect(page.locator("#poll .poll-chart")).to_have_count(0)
        expect(console.locator("#poll-count .poll-chart")).to_be_visible()
        check_axe("phone with an open poll", phones[0])
        console.locator("#poll").get_by_role("button", name="Reveal results").click()
        for page in (projector, *phones):
            bars = page.locator("#poll .poll-chart li")
            expect(bars).to_have_count(3)
            expect(bars.nth(1)).to_contain_text("Insulation")
            expect(bars.nth(1).locator(".bar-count")).to_have_text("2")
            expect(bars.nth(0).locator(".bar-count")).to_have_text("0")
        check_axe("phone with poll results", phones[1])

        # --- the scale: asked from the console's form, with labelled ends ---------------------
        form = console.locator("#new-poll")
        form.get_by_label("Kind of question").select_option("scale")
        form.get_by_role("textbox", name="Question").fill("How ready is your street for a heat network?")
        form.get_by_label("Lowest point", exact=True).fill("1")
        form.get_by_label("Label of the lowest point").fill("Not at all")
        form.get_by_label("Highest point", exact=True).fill("5")
        form.get_by_label("Label of the highest point").fill("Fully ready")
        form.get_by_role("button", name="Add to the agenda").click()
        expect(console.locator("#new-poll")).to_contain_text("Added: How ready is your street")
        console.locator("#agenda li", has_text="How ready is your street").get_by_role("button").click()
        console.get_by_role("button", name="Open the poll").click()
        for page in phones:
            expect(page.locator("#poll")).to_have_attribute("data-status", "open")
            expect(page.locator("#poll .scale-end").first).to_have_text("Not at all")
        phones[0].locator(".scale-point", has_text="4").click()
        phones[0].get_by_role("button", name="Send my answer").click()
        expect(phones[0].locator("#my-poll")).to_contain_text("Your answer: 4.")
        phones[1].locator(".scale-point", has_text="Fully ready").click()
        phones[1].get_by_role("button", name="Send my answer").click()
        expect(phones[1].locator("#my-poll")).to_contain_text("Your answer: 5 (Fully ready).")
        expect(console.locator("#poll-count")).to_contain_text("2 answers")
        check_axe("phone with an open scale", phones[1])
        check_axe("console", console)
        console.locator("#poll").get_by_role("button", name="Reveal results").click()
        for page in (projector, *phones):
            bars = page.locator("#poll .poll-chart li")
            expect(bars).to_have_count(5)
            expect(bars.nth(3).locator(".bar-count")).to_have_text("1")
            expect(bars.nth(4).locator(".bar-count")).to_have_text("1")
            expect(page.locator("#poll .poll-chart")).to_contain_text("Average 4.5")
        check_axe("projector with scale results", projector)
        assert not errors, errors
        assert not axe_failures, "\n".join(axe_failures)
    finally:
        for ctx in contexts:
            ctx.close()
