"""Helpers for tests that need Debian's Chromium: find it, or skip (fail in CI) with the reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from indicators.views.export import CHROMIUM_ARGS

CHROMIUM = os.environ.get("WATCHFLOOR_CHROMIUM", "/usr/bin/chromium")
# The tests read the dashboard's pages in Debian's chromium-headless-shell when it is installed (.ci/run
# installs it): the same Chromium, built for automation without a desktop browser's parts, at about 60 %
# of chromium's processor time per page. Without it they use chromium. Exports use what the product finds.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"


def require_chromium() -> str:
    """The Chromium path; skips the test locally when absent, fails it in CI (CI=true)."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM}; install Debian's package: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def page_browser() -> str:
    """The Chromium the tests open the dashboard's pages in: the headless shell when installed, else chromium
    (``require_chromium``)."""
    return HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else require_chromium()


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


_shared: dict = {}  # this test process's one Playwright and Chromium, once a test asks for them


def _shared_browser():
    """The test process's Chromium, started at its first browser test and kept until
    ``close_shared_browser``: starting Playwright's driver and a Chromium costs 1.8 s of processor time."""
    if "browser" in _shared and not _shared["browser"].is_connected():  # it crashed: a new one
        close_shared_browser()
    if "browser" not in _shared:
        from playwright.sync_api import sync_playwright

        executable = page_browser()
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except BaseException:
            playwright.stop()
            raise
        _shared.update(playwright=playwright, browser=browser)
    return _shared["browser"]


def close_shared_browser() -> None:
    """Close the test process's Chromium and Playwright, if started."""
    if "browser" in _shared:
        try:
            if _shared["browser"].is_connected():
                _shared["browser"].close()
        finally:
            _shared["playwright"].stop()
            _shared.clear()


@contextmanager
def chromium_browser():
    """The test process's Chromium for several pages: ``new_page()`` opens a page in a fresh context (no
    cookies or storage shared with the browser's other pages: another person at another machine)."""
    browser = _shared_browser()

    @contextmanager
    def new_page(width: int = 1600, height: int = 1000):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            count_finished_runs(page)
            # tests talk to localhost only
            page.route(lambda url: not url.startswith(("http://127.0.0.1", "http://localhost", "data:",
                                                       "blob:")), lambda route: route.abort())
            yield page
        finally:
            context.close()

    yield new_page


@contextmanager
def chromium_page(width: int = 1600, height: int = 1000):
    with chromium_browser() as new_page, new_page(width, height) as page:
        yield page


_finished: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # page: the runs Streamlit told it had finished


def count_finished_runs(page) -> None:
    """From now on, count the script runs Streamlit reports finished to ``page`` (the ``script_finished``
    messages on its websockets): a run that starts and ends between two looks still counts, where the
    app's "running" mark can come and go within one redraw."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    _finished[page] = 0

    def received(payload) -> None:
        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - not a message of Streamlit's
            return
        if message.WhichOneof("type") == "script_finished":
            _finished[page] += 1

    page.on("websocket", lambda socket: socket.on("framereceived", received))


def finished_runs(page) -> int:
    """How many script runs have finished on ``page`` since ``count_finished_runs``."""
    return _finished[page]


def wait_for_app(page, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit has rendered and no script run is going or due: the app's script state
    (``data-test-script-state``) is "initial" before the first run, "running" or "rerunRequested" during one."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_function(
        "() => ['notRunning', 'compilationError'].includes("
        "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state'))"
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
    page's, and wait until it is at its path and the run the click started has finished (not merely
    until no run is going, which is also true before that run begins)."""
    wait_for_app(page)
    moving = urlsplit(page.url).path != f"/{path}"
    finished = finished_runs(page)
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.inner_text().lower():
        more.click()
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).filter(
        has=page.get_by_text(title, exact=True)).first.click()
    page.wait_for_url(lambda address: urlsplit(address).path == f"/{path}", timeout=60000)
    deadline = time.monotonic() + 60
    while moving and finished_runs(page) == finished:
        assert time.monotonic() < deadline, f"no run of {path or 'the overview'} finished within 60 s"
        page.wait_for_timeout(50)
    wait_for_app(page)
