"""Turning the briefing HTML into PNG or PDF with the system's headless Chromium (one start per snapshot).

Playwright drives Debian's ``chromium`` (or any Chromium/Chrome found); it never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from html import escape
from pathlib import Path
from typing import Callable

SIZES = {"slide": (1920, 1080), "a4": (1000, 1414)}  # a4: portrait proportions, printed at 72%

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--font-render-hinting=none"]
DEFAULT_TIMEOUT_SECONDS = 90
NO_BROWSER_MESSAGE = ("no Chromium or Chrome found for PNG/PDF export; install it (Debian/Ubuntu: sudo apt-get "
                      "install chromium) or set WATCHFLOOR_CHROMIUM to its path. HTML export needs no browser.")


class ExportError(Exception):
    """The export could not be made; the message says why and what to do."""


def find_chromium() -> str:
    """Path of a Chromium or Chrome executable, or ExportError with how to install one."""
    configured = os.environ.get("WATCHFLOOR_CHROMIUM")
    if configured:
        if Path(configured).exists():
            return configured
        raise ExportError(f"WATCHFLOOR_CHROMIUM is set to {configured}, which does not exist; "
                          + NO_BROWSER_MESSAGE)
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ExportError(NO_BROWSER_MESSAGE)


def _page_band(marking: str, extra: str = "") -> str:
    """Header/footer template for every PDF page: the marking (escaped), and page numbers."""
    return (f'<div style="width:100%;font-size:8px;font-family:Arial,sans-serif;text-align:center;color:#1A1A1A">'
            f"<b>{escape(marking)}</b>{extra}</div>")


def render(html: str | Callable[[], str], fmt: str, size: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
           marking: str | Callable[[], str] = "") -> list[bytes]:
    """The files of a briefing, within ``timeout_seconds`` (ExportError past it): a PNG per slide (one
    PNG of the whole page for A4), or one PDF (a page per slide).

    ``html`` is the page, or a function that makes it: the browser then starts in a second thread
    while the function runs, so that its start-up costs no time of its own. An exception from the
    function is raised here, after the browser is closed. PDF pages carry ``marking`` at the top and
    bottom of every page, with page numbers (a function is called after ``html``'s).
    """
    executable = find_chromium()
    handed_over = threading.Event()
    page_html: dict[str, str | None] = {}
    outcome: dict[str, object] = {}

    def in_browser_thread() -> None:
        try:
            outcome["bytes"] = _render_in_browser(executable, handed_over, page_html, fmt, size, timeout_seconds)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=in_browser_thread, name="watchfloor-export", daemon=True)
    worker.start()
    try:
        page_html["html"] = html() if callable(html) else html
        page_html["marking"] = marking() if callable(marking) else marking
    except BaseException:
        page_html["html"] = None  # tells the browser thread to close without rendering
        raise
    finally:
        handed_over.set()
        worker.join(timeout_seconds + 30)
    if worker.is_alive():
        raise ExportError(f"the browser did not finish the {fmt.upper()} within {timeout_seconds:g} s; "
                          "nothing was written. Try again, or export HTML.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["bytes"]


def _render_in_browser(executable: str, handed_over: threading.Event, page_html: dict, fmt: str, size: str,
                       timeout_seconds: float) -> list[bytes] | None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    width, height = SIZES[size]
    timeout_ms = timeout_seconds * 1000
    with tempfile.TemporaryDirectory(prefix="watchfloor-export-") as folder:
        page_path = Path(folder) / "briefing.html"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                                     timeout=timeout_ms)
                try:
                    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
                    page.set_default_timeout(timeout_ms)
                    # the briefing is self-contained: refuse any request that would leave the file
                    page.route(lambda url: not url.startswith(("file:", "data:", "blob:", "about:")),
                               lambda route: route.abort())
                    handed_over.wait()
                    if page_html.get("html") is None:
                        return None
                    marking = page_html.get("marking", "")
                    page_path.write_text(page_html["html"], encoding="utf-8")
                    page.goto(page_path.as_uri(), wait_until="load")
                    page.wait_for_function(
                        "() => [...document.querySelectorAll('.plotly-graph-div')]"
                        ".every(div => div.querySelector('.main-svg'))")
                    slides = page.locator(".wf-slide")
                    if fmt == "png":
                        if slides.count():  # one image per slide: what does not fit one goes to the next
                            return [slides.nth(number).screenshot(type="png") for number in range(slides.count())]
                        return [page.screenshot(full_page=True, type="png")]
                    if slides.count():  # a page per slide; each slide carries its marking
                        return [page.pdf(width=f"{width}px", height=f"{height}px", print_background=True,
                                         margin={"top": "0", "bottom": "0", "left": "0", "right": "0"})]
                    bands = dict(display_header_footer=True, header_template=_page_band(marking),
                                 footer_template=_page_band(marking, ' &middot; page <span class="pageNumber">'
                                                            '</span> of <span class="totalPages"></span>'))
                    return [page.pdf(format="A4", print_background=True, prefer_css_page_size=True, scale=0.72,
                                     **bands)]
                finally:
                    browser.close()
        except PlaywrightTimeout:
            raise ExportError(f"the browser did not finish the {fmt.upper()} within {timeout_seconds:g} s; "
                              "nothing was written. Try again, or export HTML.") from None
        except PlaywrightError as error:
            raise ExportError(f"the browser failed while making the {fmt.upper()}: "
                              f"{str(error).splitlines()[0]}") from None
