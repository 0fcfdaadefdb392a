"""A community over two meetings in a real browser: a phone joins both (its device cookie makes it
one member) and withdraws consent in two taps; someone comes back on another phone and the
facilitator merges the two members from the members page; the community page shows the timeline
and who came back. Axe on the community page, the members page and the phone."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser
LAPTOP = {"viewport": {"width": 1280, "height": 800}}


def _join(page: Page, code: str, sid: int, name: str) -> None:
    page.goto(f"/j/{code}")
    page.fill("#f-display_name", name)
    page.check("#consent-named")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/p/{sid}$"))


def test_community_page_members_and_withdrawal(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    community = api(live_server, "/api/v1/communities", token, {"name": "Leergemeenschap Water", "city": "Zwolle"})
    cid = community["id"]
    meetings = []
    for title, when in (("Spring meeting", "2026-03-02T14:00:00"), ("Autumn meeting", "2026-10-05T14:00:00")):
        body = {"title": title, "agenda": [{"title": "Ideas"}], "community_id": cid, "starts_at": when}
        created = api(live_server, "/api/v1/sessions", token, body)
        api(live_server, f"/api/v1/sessions/{created['id']}/start", token, {})
        meetings.append(created)
    (s1, code1), (s2, code2) = [(m["id"], m["join_code"]) for m in meetings]
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    axe, axe_failures = Axe(), []

    def check_axe(name: str, page: Page) -> None:
        bad = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            axe_failures.append(format_violations(f"{name} ({page.url})", bad))

    def context(**options: object) -> Page:
        ctx = new_context(browser, live_server, **options)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        return page

    try:
        # --- one phone, two meetings: one member -------------------------------------------
        phone = context(**PHONE)
        _join(phone, code1, s1, "Anouk")
        _join(phone, code2, s2, "Anouk")
        # --- the same person on a borrowed phone: a second member, until merged ----------------
        borrowed = context(**PHONE)
        _join(borrowed, code2, s2, "Anouk (leen)")

        # --- withdrawing consent: two taps, and the phone says what changed ---------------------
        withdraw = phone.locator("details.withdraw")
        withdraw.locator("summary").click()  # tap one
        expect(withdraw).to_contain_text("Spring meeting")
        expect(withdraw).to_contain_text("Autumn meeting")
        check_axe("phone, withdrawal open", phone)
        withdraw.get_by_role("button", name="Yes, withdraw my consent").click()  # tap two
        expect(phone.locator("#withdraw")).to_contain_text("Your consent is withdrawn.")
        expect(phone.locator("#withdraw")).to_contain_text("Your notes in 2 sessions are left out")
        expect(phone.locator("#consent-none")).to_be_checked()
        check_axe("phone, consent withdrawn", phone)

        # --- the facilitator: community page and members --------------------------------------
        laptop = context(**LAPTOP)
        log_in(laptop)
        laptop.get_by_role("link", name="Communities").click()
        laptop.get_by_role("link", name="Leergemeenschap Water").click()
        timeline = laptop.locator("#timeline li")
        expect(timeline).to_have_count(2)
        expect(timeline.nth(0)).to_contain_text("Spring meeting")
        expect(timeline.nth(1)).to_contain_text("1 came back")
        expect(laptop.locator("#returning")).to_contain_text("Anouk")
        check_axe("community page", laptop)

        laptop.locator("#returning").get_by_role("link", name="All members").click()
        members = laptop.locator("main ol > li")
        expect(members).to_have_count(2)
        kept = members.filter(has_text="Anouk").filter(has_not_text="leen").first
        other = members.filter(has_text="Anouk (leen)")
        number = re.search(r"#(\d+)", other.locator("h2").inner_text())
        assert number, other.locator("h2").inner_text()
        check_axe("members page", laptop)
        kept.get_by_label(re.compile("Merge member # into")).fill(number.group(1))
        kept.get_by_role("button", name="Merge", exact=True).click()
        expect(laptop.locator("#flash")).to_contain_text("The two members are one now.")
        expect(laptop.locator("main ol > li")).to_have_count(1)
        expect(laptop.locator("main ol > li")).to_contain_text("2 sessions")
        check_axe("members page after the merge", laptop)
    finally:
        for ctx in contexts:
            ctx.close()
    assert not errors, "\n".join(errors)
    assert not axe_failures, "\n\n".join(axe_failures)
