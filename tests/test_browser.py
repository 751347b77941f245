"""A real headless Chromium opening the served dashboard (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import http.server
import threading
import time
from urllib.parse import urlsplit

import pytest

from browser import (SIDEBAR_PAGES, RequestWatch, chromium_page, open_from_sidebar, require_chromium, served_dashboard,
                     wait_for_app)
from helpers import DEFAULT_WATCHLIST, indicator, write_watchlist
from indicators.store.loader import load_watchlist

pytestmark = pytest.mark.browser


def wait_for_text(page, texts: list[str], timeout_ms: int = 60000) -> str:
    """Wait until the main area shows every text (the app renders in steps); returns the area's text."""
    page.wait_for_function("texts => { const main = document.querySelector('[data-testid=\"stMain\"]');"
                           " return main && texts.every(t => main.innerText.includes(t)); }",
                           arg=texts, timeout=timeout_ms)
    return page.inner_text("[data-testid='stMain']")


def test_served_dashboard_shows_every_indicator_and_draws_the_charts(tmp_path):
    require_chromium()
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    names = [indicator.name for indicator in loaded.watchlist.indicators]
    with served_dashboard(DEFAULT_WATCHLIST) as url, chromium_page() as page:
        try:
            page.goto(url)
            wait_for_app(page)
            text = wait_for_text(page, names + ["UNCLASSIFIED // OPEN SOURCE", "9 of 12 indicators current"])
            assert "Traceback" not in text
            # the situation board reads at a glance: every indicator is named above the fold at 1600x1000
            bottoms = page.evaluate("() => Object.fromEntries([...document.querySelectorAll("
                                    "'[data-testid=\"stMain\"] [data-indicator]')].map(e => "
                                    "[e.dataset.indicator, e.getBoundingClientRect().bottom]))")
            assert set(bottoms) == {indicator.id for indicator in loaded.watchlist.indicators}
            below = {key: round(bottom) for key, bottom in bottoms.items() if bottom > 1000}
            assert not below, f"named below the fold at 1600x1000: {below}"
            # nothing of Streamlit's developer chrome in a screenshot
            assert not page.locator("[data-testid='stAppDeployButton']").is_visible()
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            assert (tmp_path / "overview.png").stat().st_size > 20000

            page.set_viewport_size({"width": 1600, "height": 3200})  # every chart on screen at once
            page.goto(f"{url}/?page=timelines&as_of=2022-10-17")  # an old link opens the page at its path
            wait_for_app(page)
            page.wait_for_url("**/timelines?**", timeout=60000)
            raised = 7  # current indicators above normal on 2022-10-17, charted by default
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length === {2 + raised}",
                                   timeout=60000)
            assert page.locator(".js-plotly-plot .scatterlayer .trace").count() > 0
            page.screenshot(path=str(tmp_path / "timelines.png"), full_page=True)

            page.goto(f"{url}/overview?as_of=2022-02-20")  # the Overview by its name: at the root, same date
            page.wait_for_url(lambda address: urlsplit(address).path == "/", timeout=60000)
            assert urlsplit(page.url).query == "as_of=2022-02-20"
            wait_for_text(page, ["Overall as of 2022-02-20", "6 of 12 indicators current"])
            assert "Page not found" not in page.inner_text("body")
        except Exception as error:
            # leave the evidence: what the browser showed when the check failed
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            shown = page.inner_text("body")[:2000]
            raise AssertionError(f"{error}\n-- page text --\n{shown}\n-- screenshot: {tmp_path / 'failure.png'}") \
                from error


def test_run_dashboard_without_a_terminal_and_an_empty_home_comes_up_and_opens_a_tab(tmp_path):
    """The README's command as a launcher runs it: no terminal, a new HOME, a desktop browser ($BROWSER)."""
    import os
    import subprocess
    import time
    import urllib.request

    from browser import free_port
    from helpers import REPO

    require_chromium()
    home = tmp_path / "home"
    home.mkdir()
    opened = tmp_path / "opened.txt"
    fake_browser = tmp_path / "browser.sh"
    fake_browser.write_text(f'#!/bin/sh\necho "$@" >> {opened}\n')
    fake_browser.chmod(0o755)
    port = free_port()
    log = tmp_path / "dashboard.log"
    environment = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environment.update(HOME=str(home), BROWSER=str(fake_browser))
    with open(log, "w") as output:
        process = subprocess.Popen(["setsid", str(REPO / "scripts" / "run-dashboard"), "--port", str(port)],
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   env=environment, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not opened.exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
            assert response.read() == b"ok"
        assert opened.read_text().strip() == f"http://localhost:{port}"
        text = log.read_text()
        assert "Email" not in text and "Welcome" not in text and "gatherUsageStats" not in text
        with chromium_page() as page:
            page.goto(f"http://127.0.0.1:{port}")
            wait_for_app(page)
            wait_for_text(page, ["Belarus: a second front against Ukraine?", "indicators current"])
    finally:
        process.terminate()
        process.wait(timeout=30)


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    fetched: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server name
        type(self).fetched.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_markdown_and_html_in_every_data_field_never_fetch_anything_on_any_page(tmp_path):
    """A tracking beacon in every field that comes from the files: a local server counts fetches (zero)."""
    require_chromium()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def beacon(field: str) -> str:
        return (f"![b](http://127.0.0.1:{port}/md-{field}.png) <img src=http://127.0.0.1:{port}/html-{field}.png> "
                f"$$x^{{{field}}}$$ :red[{field}]")

    folder = write_watchlist(
        tmp_path / "w",
        [indicator(name=f"Troops {beacon('name')}", category=f"Mil {beacon('category')}", unit=beacon("unit"),
                   description=beacon("description")),
         indicator("alert", name=f"Alert {beacon('name2')}", thresholds={"elevated": 1},
                   levels={0: "calm", 1: f"raised {beacon('label')}"})],
        f'2022-10-16,troops,25,"{beacon("source")}",http://127.0.0.1:{port}/link,C,3,reported,,"{beacon("note")}"\n'
        f'2022-10-16,alert,1,MoD,,,,,,"{beacon("note2")}"\n'
        f"2022-10-17,troops,not a number {beacon('bad')},MoD,,,,,,\n",
        events=("date,title,category,description,source,url,end_date\n"
                f'2022-10-15,"{beacon("title")}","{beacon("ecat")}","{beacon("edesc")}","{beacon("esource")}",,\n'),
        title=f"Watch {beacon('title')}", theatre=beacon("theatre"), marking=beacon("marking"), as_of="2022-10-17")
    shown: dict[str, str] = {}
    try:
        with served_dashboard(folder) as url, chromium_page() as page:
            # one visit, as a reader makes it: the link's view, then every page from the sidebar, each
            # left time to load images and fonts, if anything asked for them
            requests = RequestWatch(page)
            page.goto(f"{url}/?as_of=2022-10-17&indicator=troops&targets=2022-10-17")
            wait_for_app(page)
            open_from_sidebar(page, "Overview", "")
            assert page.locator("[data-testid='stSidebarNav'] a").all_inner_texts() == list(SIDEBAR_PAGES)
            for title, path in SIDEBAR_PAGES.items():
                open_from_sidebar(page, title, path)
                requests.wait_until_quiet()
                wait_for_app(page)
                assert urlsplit(page.url).path == f"/{path}", (title, page.url)
                assert "as_of=2022-10-17" in urlsplit(page.url).query, (title, page.url)
                shown[title] = page.inner_text("[data-testid='stMain']")
                assert "Traceback" not in shown[title], title
    finally:
        server.shutdown()
    assert _CountingHandler.fetched == [], _CountingHandler.fetched
    assert "![b](http://127.0.0.1" in shown["Indicator detail"]  # the header shows the characters, not an image
    assert "Troops ![b]" in shown["Overview"] and "Alert ![b]" in shown["Timelines"]


def test_the_add_observation_form_is_empty_after_a_successful_add(tmp_path):
    require_chromium()
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,5,,,,,,,\n", as_of="2022-10-17")
    before = (folder / "observations.csv").read_bytes()
    with served_dashboard(folder) as url, chromium_page() as page:
        page.goto(f"{url}/add-data")
        wait_for_app(page)
        fields = {"Value": "12", "Source": "Ministry of Defence", "Note": "seen at the crossing"}
        boxes = {label: page.locator(f"[data-testid='stMain'] [aria-label='{label}']:is(input, textarea)").first
                 for label in fields}
        for label, text in fields.items():
            box = boxes[label]
            box.wait_for(timeout=90000)  # widgets arrive after the page's first paint
            box.fill(text)
            box.press("Tab")  # commit the field, then wait for the rerun it starts before the next one
            wait_for_app(page)
        page.get_by_role("button", name="Add observation").click()
        wait_for_text(page, ["Added to observations.csv"])
        wait_for_app(page)
        assert (folder / "observations.csv").read_bytes() == before + (
            b"2022-10-17,troops,12,Ministry of Defence,,,,,,seen at the crossing\n")
        # the cleared values reach the browser with the rerun's last widgets: wait for them, a while
        deadline = time.monotonic() + 30
        values = {label: box.input_value() for label, box in boxes.items()}
        while values != {"Value": "", "Source": "", "Note": ""} and time.monotonic() < deadline:
            time.sleep(0.25)
            values = {label: box.input_value() for label, box in boxes.items()}
        assert values == {"Value": "", "Source": "", "Note": ""}
        assert "already has this exact row" not in page.inner_text("[data-testid='stMain']")
