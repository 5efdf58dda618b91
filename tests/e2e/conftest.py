"""A headless Debian chromium driven by Playwright's sync API, shared by the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (containers), and none of the background traffic a fresh profile starts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Playwright's sync API runs an event loop in the test's thread, so Django would take
# every ORM call made by a test (or a fixture) for one made from async code and refuse it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One chromium for the whole run: starting it costs more than most tests."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    # While Playwright's event loop runs in this thread, Django keeps the thread's
    # database connection apart from the one it uses without a loop (asgiref's Local
    # holds it per async context): the tests' queries opened a second connection, which
    # the end of the run never closed, and the test database could not be dropped
    # ("being accessed by other users"). Closed here, while the loop still runs.
    connections.close_all()
    browser.close()
    playwright.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context per test, so no cookie or session leaks from one test to the next."""
    context = browser.new_context()
    yield context.new_page()
    context.close()
