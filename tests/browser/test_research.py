"""The research workspace in a real browser, on the demo data: a researcher with a community
grant opens the charts, a case's lineage and a session's replay; the slider moves by keyboard and
the moment follows; every page passes axe (no serious or critical violations) in English and
Dutch."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from labs.demo import DEMO_PASSWORD
from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser


def test_charts_lineage_and_replay(browser: Browser, live_server: LiveServer) -> None:
    live_server.labs("demo")
    context = new_context(browser, live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    axe, failures = Axe(), []

    def check_axe(name: str, target: Page) -> None:
        bad = [v for v in axe.run(target).response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            failures.append(format_violations(name, bad))

    try:
        log_in(page, "marieke.jansen@labs.example", DEMO_PASSWORD, lands=r"/research$")
        check_axe("research home", page)
        # The first meeting (the list is newest first) and the community it belongs to.
        session_path = page.locator("a[href$='/replay']").last.get_attribute("href")
        community_path = page.locator("a[href^='/research/communities/']").first.get_attribute("href")
        assert session_path and community_path

        page.goto("/research/charts")
        expect(page.locator("svg.chart")).to_have_count(8)
        for svg in page.locator("svg.chart").all():
            box = svg.bounding_box()
            assert box and box["width"] > 100 and box["height"] >= 40  # drawn, not empty
        page.locator("details summary").first.click()
        expect(page.locator("details[open] table")).to_be_visible()
        check_axe("charts", page)

        page.goto(community_path)
        expect(page.locator("svg.lineage-graph a.lineage-node").first).to_be_visible()
        case = page.locator("svg.lineage-graph a.lineage-node.lineage-case").first
        case.focus()  # each node is a link reachable from the keyboard
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/research/cases/\d+/lineage$"))
        expect(page.locator("svg.lineage-graph a.lineage-derived_case")).not_to_have_count(0)
        expect(page.locator(".lineage-list li")).not_to_have_count(0)
        check_axe("case lineage", page)

        page.goto(session_path)
        slider = page.locator("#f-seq")
        last = int(slider.get_attribute("max") or 0)
        assert last > 20
        position = page.locator("#replay-position")
        expect(position).to_contain_text(f"{last} of {last}")
        slider.focus()
        for _ in range(5):
            page.keyboard.press("ArrowLeft")
        expect(position).to_contain_text(f"{last - 5} of {last}")
        expect(page).to_have_url(re.compile(rf"seq={last - 5}"))
        page.keyboard.press("Home")
        expect(position).to_contain_text("Before the first event")
        expect(page.locator(".replay-notes li")).to_have_count(0)
        page.keyboard.press("End")
        expect(position).to_contain_text(f"{last} of {last}")
        expect(page.locator(".replay-notes li")).not_to_have_count(0)
        check_axe("replay", page)

        # The moderation log: the spam Sanne hid (its text withheld), the question Youssef hid and restored.
        page.goto("/research/moderation")
        log = page.locator("main table")
        expect(log).to_contain_text("Youssef El Amrani")
        expect(log).to_contain_text("Note restored")
        expect(log).to_contain_text("Participant removed")
        expect(log).not_to_contain_text("06-12345678")
        check_axe("moderation log", page)

        page.goto("/lang/nl?next=/research/charts")
        expect(page.locator("h1")).to_have_text("Grafieken")
        check_axe("charts (nl)", page)
        page.goto(session_path)
        expect(page.locator("h1")).to_contain_text("Terugkijken")
        check_axe("replay (nl)", page)
    finally:
        context.close()
    assert not errors, errors
    assert not failures, "\n\n".join(failures)
