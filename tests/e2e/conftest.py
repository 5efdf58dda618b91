"""A headless Debian chromium driven by Playwright's sync API, shared by the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

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
def live_server(django_db_setup: None, live_server: LiveServer) -> LiveServer:
    """pytest-django's live server, set up after the test database so that it stops first.

    Its thread holds a connection to that database until it stops; pytest-django's fixture
    does not depend on the database's, so the end of a run could drop the database while
    the server still held it ("database … is being accessed by other users", a warning of
    every CI run whose worker had run a browser test).
    """
    return live_server


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
    browser.close()
    playwright.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context per test, so no cookie or session leaks from one test to the next."""
    context = browser.new_context()
    yield context.new_page()
    context.close()
