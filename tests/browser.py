"""Helpers for tests that need Debian's Chromium: find it, or skip (fail in CI) with the reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from indicators.views.export import CHROMIUM_ARGS

CHROMIUM = os.environ.get("WATCHFLOOR_CHROMIUM", "/usr/bin/chromium")


def require_chromium() -> str:
    """The Chromium path; skips the test locally when absent, fails it in CI (CI=true)."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM}; install Debian's package: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_dashboard(folder: Path, timeout: float = 60.0, *arguments: str, port: int | None = None,
                     host_name: str = "127.0.0.1"):
    """Run ``watchfloor serve`` on a free localhost port (and ``arguments``); yields the base URL once healthy."""
    port = port or free_port()
    process = subprocess.Popen([sys.executable, "-m", "indicators.cli", "serve", str(folder), "--port", str(port),
                                "--no-browser", *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    url = f"http://{host_name}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.poll() is not None else ""
                raise AssertionError(f"the dashboard did not become healthy on {url}: {output}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def chromium_browser():
    """One Chromium for several pages: ``new_page()`` opens a page in a fresh context (no cookies or
    storage shared with the browser's other pages: another person at another machine)."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)

        @contextmanager
        def new_page(width: int = 1600, height: int = 1000):
            context = browser.new_context(viewport={"width": width, "height": height})
            try:
                page = context.new_page()
                # tests talk to localhost only
                page.route(lambda url: not url.startswith(("http://127.0.0.1", "http://localhost", "data:",
                                                           "blob:")), lambda route: route.abort())
                yield page
            finally:
                context.close()

        try:
            yield new_page
        finally:
            browser.close()


@contextmanager
def chromium_page(width: int = 1600, height: int = 1000):
    with chromium_browser() as new_page, new_page(width, height) as page:
        yield page


def wait_for_app(page, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit has rendered and finished running the script."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset?.teststate !== 'running'"
        " && document.querySelector('[data-testid=\"stMain\"]') !== null",
        timeout=timeout_ms)


class RequestWatch:
    """The requests a page has in flight, and when the last one began or ended."""

    def __init__(self, page):
        self.page, self.in_flight, self.last = page, 0, time.monotonic()
        page.on("request", self._began)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)  # an aborted one too

    def _began(self, request) -> None:
        self.in_flight += 1
        self.last = time.monotonic()

    def _ended(self, request) -> None:
        self.in_flight -= 1
        self.last = time.monotonic()

    def wait_until_quiet(self, quiet_seconds: float = 0.5, timeout_seconds: float = 30.0) -> None:
        """Wait until no request has been in flight for ``quiet_seconds``: whatever the page asked for
        (an image, a font, a tile) has been asked for and answered."""
        deadline = time.monotonic() + timeout_seconds
        while self.in_flight > 0 or time.monotonic() - self.last < quiet_seconds:
            assert time.monotonic() < deadline, f"{self.in_flight} request(s) still in flight"
            self.page.wait_for_timeout(100)


# every page, by its title in the sidebar, and its path
SIDEBAR_PAGES = {"Overview": "", "Scenarios": "scenarios", "Timelines": "timelines", "Map": "map",
                 "Indicator detail": "indicator", "Events": "events", "Backtest": "backtest", "Alerts": "alerts",
                 "Data quality": "data-quality", "Add data": "add-data", "Activity": "activity"}


def open_from_sidebar(page, title: str, path: str) -> None:
    """Open a page from the sidebar, as a reader does (no new page load): show every link, click the
    page's, and wait until it is at its path and has run."""
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.inner_text().lower():
        more.click()
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).filter(
        has=page.get_by_text(title, exact=True)).first.click()
    page.wait_for_url(lambda address: urlsplit(address).path == f"/{path}", timeout=60000)
    wait_for_app(page)
