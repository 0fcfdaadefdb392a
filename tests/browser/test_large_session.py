"""A 1,000-note session in a real browser: the projector fits one screen (1920x1080 and 1280x720)
with the prompt, timer, join code and the wall, pinned notes first and then the newest; a phone
keeps a bounded page (newest notes live, later ones behind "New notes: N", older ones a page away),
and a Dutch phone gets live notes in Dutch; the console filters its wall by kind, cluster and
hidden, live notes included."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import import_or_skip
from tests.browser.test_live_session import PHONE, api, connected, log_in, new_context, note
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = import_or_skip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

NOTES = 1000
KINDS = ["idea", "insight", "question", "booster", "barrier", "action"]
PROMPT = "What could the river become in ten years? Write one idea per note."


def post_notes(server: LiveServer, sid: int, tokens: list[str], count: int, label: str, kinds: list[str]) -> None:
    """`count` notes, 20 per participant (the posting burst), several at a time."""

    def one(i: int) -> None:
        body = f"{label} {i}: green roofs on every school"
        api(
            server,
            f"/api/v1/sessions/{sid}/notes",
            tokens[i // 20],
            {"client_id": uuid.uuid4().hex, "body": body, "kind": kinds[i % len(kinds)]},
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def join_tokens(server: LiveServer, code: str, count: int) -> list[str]:
    return [
        api(server, "/api/v1/join", "", {"join_code": code, "display_name": f"P{i}", "consent": "named"})["token"]
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = LiveServer(tmp_path_factory.mktemp("large")).start()
    try:
        token = server.create_user("fac@example.org")
        created = api(
            server,
            "/api/v1/sessions",
            token,
            {
                "title": "River lab",
                "agenda": [{"title": "Ideas for the river", "prompt": PROMPT, "minutes": 10}],
            },
        )
        sid = created["id"]
        api(server, f"/api/v1/sessions/{sid}/start", token, {})
        tokens = join_tokens(server, created["join_code"], NOTES // 20 + 10)
        post_notes(server, sid, tokens, NOTES, "Note", KINDS)
        # Each test posts as participants of its own: the posting limit never bites.
        tokens = tokens[NOTES // 20 :]
        first = api(
            server,
            f"/api/v1/sessions/{sid}/notes",
            tokens[0],
            {"client_id": uuid.uuid4().hex, "body": "Pinned: the oldest idea matters most"},
        )
        api(server, f"/api/v1/sessions/{sid}/notes/{first['id']}/moderation", token, {"action": "pin"})
        api(server, f"/api/v1/sessions/{sid}/timer", token, {"action": "start", "seconds": 600})
        yield server, token, sid, tokens
    finally:
        server.stop()


def newest(server: LiveServer, token: str, sid: int) -> str:
    """The body of the newest unpinned note, as the API lists it."""
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/sessions/{sid}/notes", headers={"authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str([n for n in json.loads(response.read()) if not n["pinned"]][-1]["body"])


def facilitator_page(browser: Browser, server: LiveServer, **kwargs: Any) -> Page:
    page = new_context(browser, server, **kwargs).new_page()
    log_in(page)
    return page


def within_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    size = page.viewport_size
    assert size is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], f"{selector} is off the screen: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], f"{selector} is off the screen: {box}"


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_projector_fits_one_screen(browser: Browser, large: Any, size: tuple[int, int]) -> None:
    server, token, sid, tokens = large
    page = facilitator_page(browser, server, viewport={"width": size[0], "height": size[1]})
    try:
        page.goto(f"/sessions/{sid}/projector")
        connected(page)
        # Nothing to scroll: the whole view is one screen.
        assert page.evaluate("document.documentElement.scrollHeight") <= size[1]
        assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        for selector in (".join-code", ".qr", "#timer", "#current-activity .prompt-title", "#current-activity .prompt"):
            within_screen(page, selector)
        expect(page.locator("#current-activity .prompt")).to_have_text(PROMPT)
        # Pinned first, then the newest; the cards shown are whole.
        cards = page.locator("#wall .note:not(.off-screen)")
        expect(cards.first).to_contain_text("Pinned: the oldest idea matters most")
        expect(cards.nth(1)).to_contain_text(newest(server, token, sid))
        assert cards.count() >= 6
        within_screen(page, "#wall .note:not(.off-screen) >> nth=-1")
        # A new note arrives live at the top, below the pinned one.
        post_notes(server, sid, tokens[1:], 1, f"Live {size[0]}", ["idea"])
        expect(cards.nth(1)).to_contain_text(f"Live {size[0]} 0:")
        assert page.locator("#wall .note").count() <= 40
        assert page.evaluate("document.documentElement.scrollHeight") <= size[1]
    finally:
        page.context.close()


def test_phone_stays_bounded_in_a_large_session(browser: Browser, large: Any) -> None:
    server, _token, sid, tokens = large
    context = new_context(browser, server, **PHONE)
    try:
        context.add_cookies([{"name": f"labs_p{sid}", "value": tokens[2], "url": server.base_url}])
        page = context.new_page()
        page.goto(f"/p/{sid}")
        connected(page)
        wall = page.locator("#wall .note")
        expect(wall.first).to_contain_text("Pinned: the oldest idea matters most")
        assert wall.count() == 30
        assert page.evaluate("document.getElementsByTagName('*').length") < 800

        # Reading further down: new notes wait behind one button instead of moving the page.
        page.locator("#older-more button").scroll_into_view_if_needed()
        page.mouse.wheel(0, 400)
        expect(page.locator("#new-notes")).to_be_hidden()
        post_notes(server, sid, tokens[3:], 45, "Later", ["question"])
        button = page.locator("#new-notes")
        expect(button).to_have_text("New notes: 45")
        # The wall keeps its 30: the pinned note and the 29 newest, waiting; the rest a page away.
        expect(page.locator("#wall .note.incoming")).to_have_count(29)
        assert wall.count() == 30
        button.click()
        expect(button).to_be_hidden()
        expect(page.locator("#wall .note.incoming")).to_have_count(0)
        expect(note(page, "Later 44: green roofs on every school")).to_be_visible()

        # Older notes, a page at a time.
        page.locator("#older-more button").click()
        expect(page.locator("#older .note")).to_have_count(50)
        ids = "cards => cards.map(c => Number(c.id.slice(5)))"
        live = page.locator("#wall .note:not(.pinned)").evaluate_all(ids)
        older = page.locator("#older .note").evaluate_all(ids)
        assert older == sorted(older, reverse=True) and max(older) < min(live), (live, older)
        assert page.evaluate("document.getElementsByTagName('*').length") < 1500

        # Still usable: the compose form posts and the note comes back live.
        page.fill("#note-body", "Typed after the rush")
        page.locator("#compose button[type=submit]").click()
        expect(page.locator("#compose-status")).to_have_text("Sent.")
        expect(note(page, "Typed after the rush")).to_have_count(1)
        # Only the author gets the edit form, and only when asking for it.
        mine = note(page, "Typed after the rush")
        expect(page.locator("#wall textarea")).to_have_count(0)
        mine.get_by_role("button", name="Edit").click()
        expect(mine.locator("textarea")).to_have_value("Typed after the rush")
    finally:
        context.close()


def test_dutch_phone_gets_live_notes_in_dutch(browser: Browser, large: Any) -> None:
    server, _token, sid, tokens = large
    context = new_context(browser, server, locale="nl-NL", **PHONE)
    try:
        context.add_cookies([{"name": f"labs_p{sid}", "value": tokens[6], "url": server.base_url}])
        page = context.new_page()
        page.goto(f"/p/{sid}")
        connected(page)
        expect(page.locator("#wall .note").nth(1).locator(".note-kind")).not_to_have_text("")
        post_notes(server, sid, tokens[7:], 1, "Dutch", ["idea"])
        card = note(page, "Dutch 0: green roofs on every school")
        expect(card.locator(".note-kind")).to_have_text("Idee")
        expect(card.get_by_role("button", name="Stem", include_hidden=True)).to_have_count(1)
        expect(page.locator("#wall")).not_to_contain_text("Vote")
    finally:
        context.close()


def test_console_filters_by_kind_cluster_and_hidden(browser: Browser, large: Any) -> None:
    server, _token, sid, tokens = large
    page = facilitator_page(browser, server, viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"/sessions/{sid}/console")
        connected(page)
        assert page.locator("#wall .note").count() == 50
        page.select_option("#filter-kind", "barrier")
        page.locator("#wall-filter button[type=submit]").click()
        connected(page)
        kinds = page.locator("#wall .note").evaluate_all("cards => cards.map(c => c.dataset.kind)")
        assert kinds and set(kinds) == {"barrier"}, kinds
        # Live notes follow the filter: a question stays away, a barrier arrives.
        post_notes(server, sid, tokens[8:], 2, "Filtered", ["question", "barrier"])
        expect(note(page, "Filtered 1: green roofs on every school")).to_have_count(1)
        expect(note(page, "Filtered 0: green roofs on every school")).to_have_count(0)

        # Hide one and group another; the filters find them.
        card = note(page, "Filtered 1: green roofs on every school")
        card.locator(".cluster-form input[name=name]").fill("Roofs")
        card.locator(".cluster-form").get_by_role("button", name="Group").click()
        expect(card.locator(".badge")).to_have_text("Roofs")
        card.get_by_role("button", name="Hide").click()
        expect(card).to_have_class(re.compile(r"\bhidden-note\b"))
        page.goto(f"/sessions/{sid}/console?hidden=only")
        expect(page.locator("#wall .note")).to_have_count(1)
        page.goto(f"/sessions/{sid}/console")
        page.select_option("#filter-cluster", label="Roofs")
        page.locator("#wall-filter button[type=submit]").click()
        expect(page.locator("#wall .note")).to_have_count(1)
        expect(page.locator("#wall .note")).to_contain_text("Filtered 1:")
        # A wrong filter value is a clear 400, not a 500.
        response = page.goto(f"/sessions/{sid}/console?kind=nonsense")
        assert response is not None and response.status == 400
    finally:
        page.context.close()
