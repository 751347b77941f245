"""The Map page in a real headless Chromium: drawn without a single request beyond the dashboard's own
address, and a click on a marker opens its indicator."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import RequestWatch, chromium_page, require_chromium, served_dashboard, wait_for_app

pytestmark = pytest.mark.browser
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "acled-rail-sabotage"


def test_the_map_draws_from_shipped_boundaries_with_no_request_beyond_the_dashboard_and_a_click_opens_the_indicator(
        tmp_path):
    require_chromium()
    requests: list[str] = []
    with served_dashboard(EXAMPLE) as url, chromium_page(1600, 1100) as page:
        page.on("request", lambda request: requests.append(request.url))  # aborted ones are recorded too
        in_flight = RequestWatch(page)
        try:
            page.goto(f"{url}/?page=map")
            wait_for_app(page)
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length >= 8",
                                   timeout=60000)
            in_flight.wait_until_quiet()  # whatever the map would fetch (topojson, tiles, fonts) was asked for
            page.screenshot(path=str(tmp_path / "map.png"), full_page=True)
            outside = [address for address in requests if not address.startswith((url, "data:", "blob:", "about:"))]
            assert requests and outside == [], outside
            legend = page.eval_on_selector(".js-plotly-plot .legend", "element => element.textContent")
            assert "much more (+100% or more, or new)" in legend and "HIGH" in legend and "feed row" in legend
            # a feed row's marker: the rail sabotage indicator was HIGH (orange) on the rows' days
            opened = ("() => document.querySelector('[data-testid=\"stMain\"]')"
                      ".innerText.includes('Read-only: the rows of this indicator come from feed')")
            for attempt in range(2):  # a click while the page still reran may be lost: click again
                wait_for_app(page)
                page.locator(".js-plotly-plot .scatterlayer .point[style*='rgb(230, 159, 0)']").first.click(force=True)
                try:
                    page.wait_for_function(opened, timeout=30000)
                    break
                except Exception:
                    if attempt:
                        raise
            assert "/indicator" in page.url
        except Exception as error:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise AssertionError(f"{error}\n-- screenshot: {tmp_path / 'failure.png'}") from error
    outside = [address for address in requests if not address.startswith((url, "data:", "blob:", "about:"))]
    assert outside == []  # nor after the click
