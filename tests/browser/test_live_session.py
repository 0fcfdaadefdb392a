"""One live session end to end, in a real browser: a facilitator's console and projector and three
participants on phones, all on `labs serve` over the real websocket. Then axe on every view."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import import_or_skip
from tests.conftest import PASSWORD, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

expect = import_or_skip("playwright.sync_api").expect
Axe = import_or_skip("axe_playwright_python.sync_playwright").Axe

pytestmark = pytest.mark.browser

TIMEOUT = 10_000  # ms, for every event-driven wait
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
XSS_NAME = "<b>Bo</b>"
XSS_NOTE = "<script>window.pwned=1</script>"
FIRST, SECOND = "Ideas for the river", "Choose what to try first"


def api(server: LiveServer, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        server.base_url + path,
        method="POST",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def new_context(browser: Browser, server: LiveServer, **kwargs: Any) -> BrowserContext:
    context = browser.new_context(base_url=server.base_url, **kwargs)
    context.set_default_timeout(TIMEOUT)
    return context


def log_in(page: Page, email: str = "fac@example.org", password: str = PASSWORD, lands: str = r"/sessions$") -> None:
    """Through the real login form; `lands`: where the account's home page is."""
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.locator("main form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(lands))


def note(page: Page, body: str) -> Any:
    """The card of the note with exactly this body."""
    text = page.locator(".note-text", has_text=re.compile(f"^{re.escape(body)}$"))
    return page.locator("#wall .note").filter(has=text)


def connected(page: Page) -> None:
    expect(page.locator("#connection[data-state=connected]")).to_be_attached()


def format_violations(name: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{name}:"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            target = ", ".join(map(str, node["target"]))
            summary = "; ".join(line.strip() for line in node.get("failureSummary", "").splitlines()[1:])
            lines.append(f"      {target}: {summary}")
            lines.append(f"        {node['html'][:200]}")
    return "\n".join(lines)


def test_live_session(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.create_user("fac@example.org")
    created = api(
        live_server,
        "/api/v1/sessions",
        token,
        {
            "title": "River lab",
            "kind": "workshop",
            "agenda": [
                {"title": FIRST, "prompt": "What could the river become?", "minutes": 10},
                {"title": SECOND, "prompt": "Pick one idea to test.", "minutes": 5},
            ],
        },
    )
    sid, code = created["id"], created["join_code"]
    # People join while the facilitator sets up: she opens the planned session for joining first.
    api(live_server, f"/api/v1/sessions/{sid}/joining", token, {"joining": "open"})
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    axe, axe_failures = Axe(), []

    def check_axe(name: str, page: Page) -> None:
        violations = axe.run(page).response["violations"]
        if violations:
            print(format_violations(f"axe on {name} ({page.url})", violations))
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            axe_failures.append(format_violations(f"{name} ({page.url})", bad))

    def track(page: Page, name: str) -> Page:
        page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
        page.on("dialog", lambda d: (errors.append(f"{name}: dialog {d.message!r}"), d.dismiss()))
        return page

    try:
        # --- the facilitator logs in through the real form; console and projector -------------
        fac = new_context(browser, live_server)
        contexts.append(fac)
        console = track(fac.new_page(), "console")
        log_in(console)
        console.goto(f"/sessions/{sid}/console")
        projector = track(fac.new_page(), "projector")
        projector.goto(f"/sessions/{sid}/projector")

        # --- three participants join on phones, through the join form --------------------------
        people = [("Ana", "named"), (XSS_NAME, "pseudonymous"), ("Cas", "none")]
        participants: list[Page] = []
        for name, consent in people:
            ctx = new_context(browser, live_server, **PHONE)
            contexts.append(ctx)
            page = track(ctx.new_page(), name)
            page.goto(f"/j/{code}")
            page.fill("#f-display_name", name)
            page.check(f"#consent-{consent}")
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(re.compile(rf"/p/{sid}$"))
            expect(page.locator(".live-header")).to_contain_text(f"You are {name}.")
            participants.append(page)
        everyone = [console, projector, *participants]
        public = [projector, *participants]
        expect(console.locator("#people")).to_have_text("3 participants")

        # --- start; every view connects and shows the first activity -------------------------
        console.get_by_role("button", name="Start the session").click()
        # The answer's HX-Refresh reloads the console: the start button is gone.
        expect(console.get_by_role("button", name="Start the session")).to_have_count(0)
        for page in everyone:
            connected(page)
            expect(page.locator("#session-status")).to_contain_text("Live")
            expect(page.locator("#current-activity")).to_contain_text(FIRST)

        # --- the countdown runs ---------------------------------------------------------------
        timer = participants[0].locator("#timer")
        expect(timer).to_have_text(re.compile(r"^\d+:\d\d$"))
        first_reading = timer.inner_text()
        expect(timer).not_to_have_text(first_reading, timeout=3_000)
        expect(projector.locator("#timer")).to_have_text(re.compile(r"^(9|10):\d\d$"))

        # --- notes through the compose form; every note on every view --------------------------
        bodies = {
            0: ["Swimming spots downtown", "A floating garden"],
            1: [XSS_NOTE, "Night markets on the quay"],
            2: ["Ferries instead of a bridge"],
        }
        for i, page in enumerate(participants):
            for body in bodies[i]:
                page.fill("#note-body", body)
                page.locator("#compose button[type=submit]").click()
                expect(page.locator("#compose-status")).to_have_text("Sent.")
                expect(page.locator("#note-body")).to_have_value("")
        all_bodies = [b for bs in bodies.values() for b in bs]
        for page in everyone:
            for body in all_bodies:
                expect(note(page, body)).to_have_count(1)
            expect(page.locator("#wall .note")).to_have_count(len(all_bodies))

        # HTML in a name or a note is text everywhere and never runs.
        for page in everyone:
            expect(note(page, XSS_NOTE).locator(".note-text")).to_have_text(XSS_NOTE)
            expect(page.locator("#wall script, #wall b")).to_have_count(0)
        for page in (console, projector):  # authors are shown with consent "named" or "pseudonymous"
            expect(note(page, XSS_NOTE).locator(".note-meta")).to_have_text(XSS_NAME)
        expect(participants[1].locator(".live-header")).to_contain_text(f"You are {XSS_NAME}.")

        # --- the facilitator hides a note: gone from the public views, marked on the console -------
        hidden_body = "A floating garden"
        note(console, hidden_body).get_by_role("button", name="Hide").click()
        for page in public:
            expect(note(page, hidden_body)).to_have_count(0)
            expect(page.locator("#wall .note")).to_have_count(len(all_bodies) - 1)
        hidden = note(console, hidden_body)
        expect(hidden).to_have_class(re.compile(r"\bhidden-note\b"))
        expect(hidden.locator(".note-flag")).to_have_text("Hidden")
        expect(hidden.get_by_role("button", name="Restore")).to_be_visible()

        # --- the facilitator groups a note into a cluster -------------------------------------
        clustered = "Swimming spots downtown"
        card = note(console, clustered)
        card.locator(".cluster-form input[name=name]").fill("Water")
        card.locator(".cluster-form").get_by_role("button", name="Group").click()
        for page in everyone:
            expect(note(page, clustered).locator(".note-head .badge")).to_have_text("Water")
        expect(note(console, clustered).locator(".cluster-form input[name=name]")).to_have_value("Water")
        expect(console.locator("#cluster-names option[value=Water]")).to_be_attached()

        # --- voting: open, cast, results only once revealed ----------------------------------------
        console.fill("#votes-each", "2")
        console.get_by_role("button", name="Open voting").click()
        for page in everyone:
            expect(page.locator("#votes")).to_have_attribute("data-status", "open")
        ballots = {0: [XSS_NOTE, "Ferries instead of a bridge"], 1: [XSS_NOTE], 2: [XSS_NOTE, clustered]}
        for i, page in enumerate(participants):
            for body in ballots[i]:
                left = 2 - ballots[i].index(body) - 1
                note(page, body).locator(".vote-btn").click()
                votes_left = f"You have {left} vote{'' if left == 1 else 's'} left."
                expect(page.locator("#my-votes")).to_contain_text(votes_left)
        expect(console.locator("#votes")).to_contain_text("3 people have voted")
        for page in everyone:
            expect(page.locator("#votes")).to_have_attribute("data-status", "open")
            expect(page.locator("#votes .results")).to_have_count(0)
            expect(page.locator("#votes")).not_to_contain_text("3 votes")
        console.locator("#votes").get_by_role("button", name="Reveal results").click()
        for page in everyone:
            expect(page.locator("#votes[data-status=revealed]")).to_be_attached()
            results = page.locator("#votes .results li")
            expect(results.first).to_have_text(f"3 votes · Idea: {XSS_NOTE}")
            expect(page.locator("#votes script")).to_have_count(0)
        for page in public:
            expect(page.locator("#votes .results")).not_to_contain_text(hidden_body)

        # Axe on the live views while they are at their fullest: notes (one hidden), a cluster, results.
        for name, page in [("console", console), ("projector", projector), ("participant", participants[1])]:
            check_axe(name, page)

        # --- the next activity reaches every view -----------------------------------------------
        console.get_by_role("button", name="Next activity").click()
        for page in everyone:
            expect(page.locator("#current-activity")).to_contain_text(SECOND)
        expect(console.locator("#agenda li[aria-current=step]")).to_contain_text(SECOND)
        expect(projector.locator("#timer")).to_have_text(re.compile(r"^[45]:\d\d$"))

        # Nothing ran: no page error, no dialog, no window.pwned.
        for page in everyone:
            assert page.evaluate("typeof window.pwned") == "undefined"
        assert not errors, errors

        # --- axe on the join and login pages too ---------------------------------------------
        anon = new_context(browser, live_server, **PHONE)
        contexts.append(anon)
        join_page = anon.new_page()
        join_page.goto(f"/j/{code}")
        expect(join_page.locator("#f-display_name")).to_be_visible()
        login_page = anon.new_page()
        login_page.goto("/login")
        expect(login_page.locator("#f-email")).to_be_visible()
        for name, page in [("join", join_page), ("login", login_page)]:
            check_axe(name, page)
        assert not axe_failures, "axe found serious or critical violations:\n" + "\n".join(axe_failures)
    finally:
        for context in contexts:
            context.close()
