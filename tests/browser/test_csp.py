"""Every page of the app, in Chromium, raises no Content-Security-Policy violation: the policy
(labs.web.headers) allows no inline script, and the pages must not need any. Each page is opened
twice: in English on a laptop, and in Dutch on a phone, where it must be Dutch and fit the
screen's width (no sideways scrolling of the whole page; wide tables scroll in their own box).

The pages are the GET rows of the access matrix, each opened by a caller who may see it, in the
matrix's world (copied into a real `labs serve`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labs.testing import LiveServer
from tests.test_access_matrix import ROWS, WHO, Row, World, make_world, url_of

PAGE_ROWS = [
    r
    for r in ROWS
    if r.method == "GET"
    and not r.path.startswith(("/api/", "/static/"))
    and not r.path.endswith((".svg", ".json", ".csv", ".qdc", ".qdpx", ".xml", ".graphml", ".zip"))  # files, not pages
    and "200" in r.answers.split()
]

# Chromium reports violations as events on the document; Playwright's init script is exempt.
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
});
"""


@pytest.fixture(scope="module")
def world_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Any]]:
    folder = tmp_path_factory.mktemp("csp")
    world = make_world(sqlite_template, folder / "labs.db")
    server = LiveServer(folder).start()
    try:
        yield world, server
    finally:
        server.stop()


def _viewer(r: Row) -> str:
    """Who opens the page: the first caller it answers 200 (the page itself, not a redirect)."""
    answers = r.expected()
    return next(who for who in ("facilitator", "participant", *WHO) if answers[who] == 200)


# (name, viewport, language)
SCREENS = [("laptop", {"width": 1280, "height": 800}, "en"), ("phone", {"width": 390, "height": 844}, "nl")]


@pytest.mark.parametrize("screen", SCREENS, ids=[s[0] for s in SCREENS])
@pytest.mark.parametrize("r", PAGE_ROWS, ids=[r.path + (f"?{r.query}" if r.query else "") for r in PAGE_ROWS])
def test_page_raises_no_csp_violation(
    browser: Any, world_server: tuple[World, LiveServer], r: Row, screen: tuple[str, dict[str, int], str]
) -> None:
    world, server = world_server
    who = _viewer(r)
    name, viewport, lang = screen
    context = browser.new_context(base_url=server.base_url, viewport=viewport, is_mobile=name == "phone")
    context.set_default_timeout(10_000)
    try:
        cookies = {**world.callers[who].cookies, "labs_lang": lang}
        context.add_cookies([{"name": k, "value": v, "url": server.base_url} for k, v in cookies.items()])
        context.add_init_script(LISTEN)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
        response = page.goto(url_of(r, world))
        assert response is not None and response.status == 200, (who, response and response.status)
        assert response.headers.get("content-security-policy", "").startswith("default-src 'self'")
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__violations")
        assert not violations and not console, (who, violations, console)
        if page.evaluate("document.doctype !== null"):  # a page, not a fragment or a stylesheet
            assert page.evaluate("document.documentElement.lang") == lang
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than the screen"
    finally:
        context.close()
