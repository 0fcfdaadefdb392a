"""Coding in a real browser: a researcher selects a span of a note's text (after an emoji, so the
browser's UTF-16 positions must become characters), applies a code, sees it listed, and the
codebook, coding, memo and export pages pass axe in English and Dutch."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import api, format_violations, log_in, new_context
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser

BODY = "🌱 Groene daken op scholen, samen met de buurt"


def select_text(page: Page, text: str) -> None:
    """Select `text` inside #note-text the way a reader's drag does (a DOM selection)."""
    page.evaluate(
        """(needle) => {
            const node = document.getElementById("note-text").firstChild;
            const start = node.textContent.indexOf(needle);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + needle.length);
            const selection = document.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
        }""",
        text,
    )


def test_code_a_selected_span(browser: Browser, live_server: LiveServer) -> None:
    fac = live_server.create_user("fac@example.org")
    session = api(
        live_server, "/api/v1/sessions", fac, {"title": "Daken", "kind": "workshop", "agenda": [{"title": "Ideas"}]}
    )
    sid = session["id"]
    api(live_server, f"/api/v1/sessions/{sid}/start", fac, {})
    joined = api(
        live_server, "/api/v1/join", fac, {"join_code": session["join_code"], "display_name": "Ana", "consent": "named"}
    )
    note = api(
        live_server, f"/api/v1/sessions/{sid}/notes", joined["token"], {"client_id": str(uuid.uuid4()), "body": BODY}
    )
    researcher = live_server.create_user("res@example.org", role="researcher")
    api(live_server, "/api/v1/research/grants", fac, {"email": "res@example.org", "session_id": sid})
    code = api(live_server, "/api/v1/research/codes", researcher, {"name": "Groen", "color": "#59a14f"})

    context = new_context(browser, live_server)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    axe, failures = Axe(), []

    def check_axe(name: str) -> None:
        bad = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            failures.append(format_violations(name, bad))

    try:
        log_in(page, "res@example.org", lands=r"/research")

        page.goto(f"/research/notes/{note['id']}")
        select_text(page, "daken")
        # 🌱 is two UTF-16 units but one character: "🌱 Groene " is 9 characters.
        expect(page.locator("#f-start")).to_have_value("9")
        expect(page.locator("#f-end")).to_have_value("14")
        expect(page.locator("#coding-selection")).to_have_text("daken")
        page.select_option("#f-code_id", str(code["id"]))
        page.get_by_role("button", name="Code the selected text").click()
        listed = page.locator("#codings .coding-list li")
        expect(listed).to_have_count(1)
        expect(listed.first.locator("mark")).to_have_text("daken")
        check_axe("note")

        # The whole note, with htmx again (no reload): two codings.
        page.select_option("#f-code_id", str(code["id"]))
        page.get_by_role("button", name="Code the whole note").click()
        expect(listed).to_have_count(2)
        # What the browser sent is what the server keeps: positions in characters.
        request = urllib.request.Request(
            f"{live_server.base_url}/api/v1/research/notes/{note['id']}/codings",
            headers={"authorization": f"Bearer {researcher}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            spans = [(c["start"], c["end"], c["text"]) for c in json.loads(response.read())["codings"]]
        assert spans == [(None, None, BODY), (9, 14, "daken")]

        for path in (
            "/research/codes",
            f"/research/codes/{code['id']}",
            "/research/memos",
            "/research/export",
            f"/research/sessions/{sid}/coding",
        ):
            page.goto(path)
            check_axe(path)
        page.goto(f"/lang/nl?next=/research/notes/{note['id']}")
        expect(page.get_by_role("button", name="Codeer de hele notitie")).to_be_visible()
        check_axe("note (nl)")
    finally:
        context.close()
    assert not errors, errors
    assert not failures, "\n".join(failures)
