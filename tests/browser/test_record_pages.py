"""After the session, in a real browser on the demo data: a facilitator reads a closed meeting's
record on a laptop (and in print), follows the trace to its outcome, copies a check-in's private
link; the owner answers it on a phone, in Dutch. axe on each page: no serious or critical issues."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import format_violations
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser

TIMEOUT = 10_000
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DEMO_PASSWORD = "labs-demo-2026"


def serious(page: Page, name: str) -> str | None:
    found = [v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    return format_violations(name, found) if found else None


def test_record_on_a_laptop_and_a_check_in_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    live_server.labs("demo")
    problems: list[str] = []

    laptop = browser.new_context(base_url=live_server.base_url, **LAPTOP)
    laptop.set_default_timeout(TIMEOUT)
    page = laptop.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill("sanne.devries@labs.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/lang/en?next=/sessions/1")

    # The first meeting has closed: its page is its record.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bijeenkomst 1")
    for heading in (
        "Summary",
        "Agenda as it ran",
        "Attendance",
        "Cases shared",
        "Notes per activity",
        "Clusters",
        "Vote results",
        "Outcomes",
        "Hidden notes",
    ):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("#summary")).to_contain_text("buurtambassadeurs")
    problems.append(serious(page, "session record (laptop)") or "")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("heading", name="Hidden notes")).to_be_hidden()
    expect(page.get_by_role("heading", name="Vote results")).to_be_visible()
    page.emulate_media(media="screen")

    # From the record to the outcome, its answers and the case it became.
    page.locator("#outcomes-title + ul a", has_text="Zwolle past").click()
    expect(page.get_by_role("heading", name="Answers from the owner")).to_be_visible()
    expect(page.locator(".answers")).to_contain_text("earlier answer")
    expect(page.locator("#harvest-title + .facts")).to_contain_text("Eva Bosman")
    problems.append(serious(page, "outcome page (laptop)") or "")

    page.goto("/followups?state=upcoming")
    expect(page.get_by_role("heading", name="Follow-ups", level=1)).to_be_visible()
    problems.append(serious(page, "follow-up list (laptop)") or "")
    row = page.locator("tr", has_text="Zwolle past")
    link = row.locator("input[readonly]").input_value()
    assert "/followup/lfu_" in link
    laptop.close()

    # The owner, on a phone, no account; the session was in Dutch, so is the form.
    phone = browser.new_context(base_url=live_server.base_url, **PHONE)
    phone.set_default_timeout(TIMEOUT)
    mobile = phone.new_page()
    mobile.goto(link.split(live_server.base_url, 1)[-1] if link.startswith(live_server.base_url) else link)
    expect(mobile.locator("html")).to_have_attribute("lang", "nl")
    expect(mobile.get_by_role("heading", level=1)).to_contain_text("Zwolle past")
    problems.append(serious(mobile, "check-in form (phone)") or "")
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form scrolls sideways on a phone ({width}px)"

    mobile.get_by_label("Overgenomen", exact=True).check()
    mobile.get_by_label("Wat er is gedaan").fill("Drie wijken doen nu mee.")
    mobile.get_by_role("button", name="Mijn antwoord opslaan").click()
    error = mobile.locator("#f-adopting_city-error")
    expect(error).to_contain_text("Welke stad")
    expect(mobile.get_by_label("Stad die het overnam")).to_have_attribute("aria-invalid", "true")
    problems.append(serious(mobile, "check-in form with an error (phone)") or "")

    mobile.get_by_label("Stad die het overnam").fill("Deventer")
    mobile.get_by_role("button", name="Mijn antwoord opslaan").click()
    expect(mobile.get_by_role("status").filter(has_text="je antwoord is opgeslagen")).to_be_visible()
    expect(mobile.get_by_label("Stad die het overnam")).to_have_value("Deventer")
    problems.append(serious(mobile, "check-in answered (phone)") or "")
    phone.close()

    found = [p for p in problems if p]
    assert not found, "\n\n".join(found)
