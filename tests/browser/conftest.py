"""Browser tests: Debian's Chromium driven by Playwright (sync API), against `labs serve`.

Never `playwright install`: the system Chromium at CHROMIUM is used. Without it (or without the
playwright package) these tests are skipped locally, but fail when CI=true or
LABS_REQUIRE_BROWSER=1, so a CI image that lost its browser does not pass silently."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LABS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent


def browser_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("LABS_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if browser_required():
        pytest.fail(f"{reason} (required because CI=true or LABS_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def import_or_skip(module: str) -> Any:
    """pytest.importorskip, except that it fails when a browser is required."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if browser_required():
            raise
        pytest.skip(f"{module} is not installed: {e}", allow_module_level=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


# Module scope: sync Playwright keeps an event loop running in this thread while it is open,
# which pytest-asyncio tests cannot share; it must be closed before any of them runs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    sync_api = import_or_skip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
