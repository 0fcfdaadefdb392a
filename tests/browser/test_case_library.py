"""The case library in a real browser: "Share a project" on a phone (a mistake, then a sent
project), and a case's page on a laptop after it was shared in a session and got feedback; axe
on each, no serious or critical violations."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1366, "height": 800}}


def serious(axe: Any, name: str, page: Page) -> list[str]:
    violations = axe.run(page).response["violations"]
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    return [format_violations(f"{name} ({page.url})", bad)] if bad else []


def test_share_a_project_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    axe, failures = Axe(), []
    context = new_context(browser, live_server, **PHONE)
    try:
        page = context.new_page()
        page.goto("/share")
        expect(page.get_by_role("heading", name="Share a project")).to_be_visible()
        failures += serious(axe, "share form", page)

        page.fill("#f-title", "Rooftop farms on social housing")
        page.fill("#f-city", "Medellín")
        page.select_option("#f-country", "CO")
        page.check("#f-sdg-2")
        page.check("#f-sdg-11")
        page.fill("#f-topics_more", "urban farming")
        page.fill("#f-name", "Lucía Gómez")
        page.fill("#f-email", "not an email")
        page.get_by_role("button", name="Send my project").click()
        expect(page.locator("#f-email-error")).to_contain_text("An email address")
        expect(page.locator("#f-title")).to_have_value("Rooftop farms on social housing")
        expect(page.locator("#f-sdg-11")).to_be_checked()
        failures += serious(axe, "share form with an error", page)

        page.fill("#f-email", "lucia@example.org")
        page.get_by_role("button", name="Send my project").click()
        page.wait_for_url(re.compile(r"/share\?sent=1$"))
        expect(page.get_by_role("heading", name="Thank you for sharing your project")).to_be_visible()
        failures += serious(axe, "share thanks", page)

        # The phone shows no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()
    assert not failures, "\n".join(failures)


def test_case_page_on_a_laptop(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    case = api(
        live_server,
        "/api/v1/cases",
        token,
        {
            "title": "Buurtambassadeurs voor de warmtetransitie",
            "city": "Groningen",
            "country": "NL",
            "sdgs": [7, 11, 13],
            "topics": ["warmtetransitie"],
            "stage": "implemented",
            "summary": "Bewoners gaan langs bij hun buren.",
            "boosters": "Buren vertrouwen buren.",
            "barriers": "Vrijwilligers raken overbelast.",
            "links": ["https://example.org/ambassadeurs"],
        },
    )
    session = api(
        live_server, "/api/v1/sessions", token, {"title": "Warmte in de wijk", "agenda": [{"title": "Cases"}]}
    )
    sid = session["id"]
    api(live_server, f"/api/v1/sessions/{sid}/start", token, {})
    api(live_server, f"/api/v1/sessions/{sid}/cases", token, {"case_id": case["id"], "presenter": "Anouk Bos"})
    for i, (kind, body) in enumerate(
        [
            ("booster", "Een betaalde coördinator"),
            ("barrier", "VvE's besluiten traag"),
            ("question", "Wie betaalt de scans?"),
            ("idea", "Begin bij huurders"),
        ]
    ):
        api(
            live_server,
            f"/api/v1/sessions/{sid}/notes",
            token,
            {"client_id": f"n{i}", "body": body, "kind": kind, "case_id": case["id"]},
        )

    axe, failures = Axe(), []
    context = new_context(browser, live_server, **LAPTOP)
    try:
        page = context.new_page()
        log_in(page)

        page.goto("/cases")
        page.fill("#f-q", "warmte")
        expect(page.locator("#results")).to_contain_text("Buurtambassadeurs")  # htmx, as you type
        failures += serious(axe, "case library", page)
        page.get_by_role("link", name="Buurtambassadeurs voor de warmtetransitie").click()
        page.wait_for_url(re.compile(rf"/cases/{case['id']}$"))

        expect(page.get_by_role("heading", name="Where it was shared")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Anouk Bos")
        expect(page.locator("main")).to_contain_text("Sustainable cities and communities")
        for heading in ("Boosters", "Barriers", "Questions", "Ideas"):
            expect(page.locator("#notes h3", has_text=heading)).to_have_count(1)
        failures += serious(axe, "case page", page)

        page.goto(f"/lang/nl?next=/cases/{case['id']}")
        expect(page.locator("main")).to_contain_text("Duurzame steden en gemeenschappen")
        failures += serious(axe, "case page in Dutch", page)
    finally:
        context.close()
    assert not failures, "\n".join(failures)
