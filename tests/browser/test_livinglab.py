"""A living lab on a laptop in a real browser: the Theory of Change built with the keyboard through
its forms (a cycle refused with the message next to the field), the picture following, and an
indicator with measurements drawn as a chart beside its data table; an experiment whose action is
a follow-up, answered by its owner on a phone through the private link and then in the learning
log. Axe on every page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser
LAPTOP = {"viewport": {"width": 1366, "height": 900}}


def add_element(page: Page, kind: str, title: str) -> None:
    form = page.locator("#new-node")
    form.get_by_label("Kind").select_option(kind)
    form.get_by_label("Title").fill(title)
    form.get_by_label("Title").press("Enter")  # the keyboard submits the form
    expect(page.locator(".toc-node h4", has_text=re.compile(f"^{re.escape(title)}$"))).to_have_count(1)


def test_theory_of_change_and_indicator_chart(browser: object, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    lab = api(live_server, "/api/v1/communities", token, {"name": "Zonnewijk", "kind": "living_lab"})
    axe, failures = Axe(), []

    def check_axe(name: str, page: Page) -> None:
        bad = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            failures.append(format_violations(name, bad))

    context = new_context(browser, live_server, **LAPTOP)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page)
        page.goto(f"/livinglabs/{lab['id']}")

        add_element(page, "activity", "Energy cafés")
        add_element(page, "output", "Free energy scans")
        add_element(page, "short_term", "Households insulate")
        add_element(page, "barrier", "Landlords wait")
        expect(page.locator("svg.toc-picture g.node")).to_have_count(4)

        cafes, scans = "Activity: Energy cafés", "Output: Free energy scans"
        insulate = "Short-term outcome: Households insulate"
        for a, b in ((cafes, scans), (scans, insulate)):
            links = page.locator("#new-link")
            links.get_by_label("This step").select_option(label=a)
            links.get_by_label("leads to").select_option(label=b)
            links.get_by_role("button", name="Add link").click()
        expect(page.locator("svg.toc-picture line.leads-to")).to_have_count(2)
        # A cycle: refused, with the reason next to the field, and nothing drawn.
        links = page.locator("#new-link")
        links.get_by_label("This step").select_option(label=insulate)
        links.get_by_label("leads to").select_option(label=cafes)
        links.get_by_role("button", name="Add link").click()
        expect(page.locator("#new-link .field-error").first).to_contain_text("cycle")
        expect(page.locator("#link-to")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("svg.toc-picture line.leads-to")).to_have_count(2)
        check_axe("Theory of Change", page)

        page.get_by_role("link", name="Indicators").click()
        form = page.locator("#new-indicator")
        form.locator("#f-name").fill("Insulated homes")
        form.locator("#f-unit").fill("%")
        form.locator("#f-baseline").fill("22")
        form.locator("#f-baseline_on").fill("2026-01-15")
        form.locator("#f-target").fill("50")
        form.locator("#f-target_on").fill("2025-06-01")  # before the baseline: refused
        form.get_by_role("button", name="Add the indicator").click()
        expect(page.locator("#new-indicator")).to_contain_text("The target date must come after the baseline date.")
        page.locator("#f-target_on").fill("2028-01-15")
        page.locator("#new-indicator").get_by_role("button", name="Add the indicator").click()
        page.wait_for_url(re.compile(r"/indicators/\d+$"))
        for day, value in (("2026-06-01", "27"), ("2026-11-01", "34")):
            measure = page.locator("#measurements")
            measure.locator("#m-value").fill(value)
            measure.locator("#m-date").fill(day)
            measure.get_by_role("button", name="Save the measurement").click()
            expect(page.locator("table tbody tr").first).to_contain_text(day)
        expect(page.locator("svg.indicator-chart circle.measured")).to_have_count(2)
        expect(page.locator("svg.indicator-chart .target")).to_have_count(1)
        expect(page.locator("table tbody")).to_contain_text("34 %")
        check_axe("indicator", page)

        page.get_by_role("link", name="Experiments").click()
        page.locator("#x-title").fill("Street ambassadors")
        page.locator("#x-hypothesis").fill("If neighbours explain the scan, more households insulate.")
        page.get_by_role("button", name="Plan it").click()
        page.wait_for_url(re.compile(r"/experiments/\d+$"))
        page.locator("#a-title").fill("Train six ambassadors")
        page.locator("#a-owner").fill("Fatima")
        page.locator("#a-due").fill((date.today() - timedelta(days=30)).isoformat())
        page.locator("#actions").get_by_role("button", name="Add the action").click()
        expect(page.locator("#actions")).to_contain_text("Overdue")
        link = page.locator("#actions input[readonly]").first.input_value()
        check_axe("experiment", page)

        phone = new_context(browser, live_server, **PHONE)  # type: ignore[arg-type]
        try:
            owner = phone.new_page()
            owner.goto(link)
            expect(owner.locator("main")).to_contain_text("Experiment: Street ambassadors")
            check_axe("the action's check-in on a phone", owner)
            owner.get_by_label("In progress").check()
            owner.get_by_label("What was done").fill("Six ambassadors trained")
            owner.get_by_role("button", name="Save my answer").click()
            expect(owner.locator("main")).to_contain_text("You answered")
        finally:
            phone.close()
        page.reload()
        expect(page.locator("#learning-log")).to_contain_text("Six ambassadors trained")
        assert not errors, errors
        assert not failures, "\n".join(failures)
    finally:
        context.close()
