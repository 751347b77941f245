"""Briefing exports: PNG, PDF and self-contained HTML, deterministic, traceable, never hanging."""

from __future__ import annotations

import re
import struct
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from browser import chromium_page, require_chromium
from helpers import DEFAULT_WATCHLIST, indicator, write_watchlist
from indicators.cli import app
from indicators.engine.report import neutralise_formulas
from indicators.store.loader import load_watchlist, watchlist_fingerprint

runner = CliRunner()
PINNED = "2026-01-02T03:04:05"


def snapshot(*args):
    return runner.invoke(app, ["snapshot", *map(str, args)])


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_html_is_self_contained_with_every_card_marking_and_fingerprint(tmp_path):
    out = tmp_path / "briefing.html"
    result = snapshot(DEFAULT_WATCHLIST, "--out", out, "--made-at", PINNED)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    for item in loaded.watchlist.indicators:
        assert f'data-indicator="{item.id}"' in html and item.name in html
    assert html.count("UNCLASSIFIED // OPEN SOURCE") == 2
    assert "Status as of <b>2022-10-17</b>; changes since <b>2022-10-10</b>" in html
    assert f"data fingerprint SHA-256 {watchlist_fingerprint(DEFAULT_WATCHLIST)}" in html
    assert "Made 2026-01-02 03:04:05" in html
    assert "Interfax (Lukashenko); Novaya Gazeta Europe; Rusmk (RIA) (C1)" in html  # a cited source with its grade
    # nothing loaded from the network: no external script, stylesheet or image
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html)
    assert "Plotly.newPlot" in html and "plotly.js (basic - minified) v4.1.1" in html  # plotly.js inline


def test_html_is_byte_for_byte_reproducible(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        assert snapshot(DEFAULT_WATCHLIST, "--out", out, "--made-at", PINNED, "--as-of", "2022-10-17",
                        "--since", "2022-10-01").exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_named_indicators_are_charted(tmp_path):
    out = tmp_path / "b.html"
    assert snapshot(DEFAULT_WATCHLIST, "--out", out, "--indicators", "rail_sabotage_incidents").exit_code == 0
    assert re.findall(r'id="chart-([a-z_]+)"', out.read_text()) == ["map", "rail_sabotage_incidents"]  # map first
    result = snapshot(DEFAULT_WATCHLIST, "--out", out, "--indicators", "nope")
    assert result.exit_code == 2 and "--indicators: no indicator nope in this watchlist" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--out", "x.docx"], "--out x.docx: use a .png, .pdf or .html file name"),
    (["--out", "x.png", "--size", "a3"], '--size "a3": use slide or a4'),
    (["--out", "x.png", "--as-of", "yesterday"], '--as-of "yesterday" is not a date'),
])
def test_usage_errors(tmp_path, args, message):
    result = snapshot(DEFAULT_WATCHLIST, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_no_browser_gives_a_clear_message_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "b.png"
    result = snapshot(DEFAULT_WATCHLIST, "--out", out)
    assert result.exit_code == 1
    assert "no Chromium or Chrome found for PNG/PDF export; install it (Debian/Ubuntu: sudo apt-get install " \
           "chromium) or set WATCHFLOOR_CHROMIUM to its path" in result.stderr
    assert not out.exists()


def test_spreadsheet_formulas_are_neutralised_in_csv_downloads():
    frame = pd.DataFrame({"source": ["=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)", "MoD", None],
                          "value": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0]})
    safe = neutralise_formulas(frame)
    assert safe["source"].tolist()[:5] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-cmd", "'@SUM(A1)", "MoD"]
    assert pd.isna(safe["source"].iloc[5])  # a missing cell stays missing
    assert safe["value"].tolist() == [1.0, -2.0, 3.0, 4.0, 5.0, 6.0]  # numbers stay numbers


@pytest.mark.browser
def test_png_slides_are_1920_by_1080_and_what_does_not_fit_goes_to_the_next_slide(tmp_path):
    require_chromium()
    out = tmp_path / "briefing.png"
    (tmp_path / "briefing-6.png").write_bytes(b"an earlier, longer export")  # its sixth slide is not this one
    result = snapshot(DEFAULT_WATCHLIST, "--out", out)
    assert result.exit_code == 0, result.output
    slides = [out] + sorted(tmp_path.glob("briefing-[0-9].png"))
    assert [path.name for path in slides] == ["briefing.png", "briefing-2.png", "briefing-3.png", "briefing-4.png",
                                              "briefing-5.png"]  # the map of the watchlist's places: slide 3
    assert all(png_size(path) == (1920, 1080) for path in slides)
    assert result.stdout.strip().endswith("(PNG, slide, 5 slides, as of 2022-10-17)")


@pytest.mark.browser
def test_slides_are_read_from_the_back_of_the_room_and_name_what_follows(tmp_path):
    require_chromium()
    out = tmp_path / "briefing.html"
    assert snapshot(DEFAULT_WATCHLIST, "--out", out, "--made-at", PINNED).exit_code == 0
    html = out.read_text(encoding="utf-8")
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    with chromium_page(1920, 1080) as page:
        page.set_content(html)
        slides = page.evaluate("() => [...document.querySelectorAll('.wf-slide')].map(slide => ({"
                               "height: slide.getBoundingClientRect().height, "
                               "indicators: [...slide.querySelectorAll('.wf-card')].map(c => c.dataset.indicator), "
                               "charts: [...slide.querySelectorAll('.wf-chart')].map(c => c.dataset.name), "
                               "foot: slide.querySelector('.wf-slide-foot').textContent}))")
        sizes = page.evaluate("() => ({level: parseFloat(getComputedStyle(document.querySelector("
                              "'.wf-sit-level .wf-badge')).fontSize), index: parseFloat(getComputedStyle("
                              "document.querySelector('.wf-sit-index')).fontSize), values: [...document."
                              "querySelectorAll('.wf-card .wf-value, .wf-card .wf-label')].map(e => parseFloat("
                              "getComputedStyle(e).fontSize)), details: [...document.querySelectorAll("
                              "'.wf-card .wf-muted')].map(e => parseFloat(getComputedStyle(e).fontSize))})")
    assert all(slide["height"] == 1080 for slide in slides)
    # the first slide holds every indicator's card; nothing is dropped: the six charts follow on the next slides
    assert slides[0]["indicators"] == [indicator.id for indicator in loaded.watchlist.indicators]
    assert sum(len(slide["charts"]) for slide in slides) == 6
    assert slides[0]["foot"].startswith("Slide 1 of 5. Continued: slide 2, what changed; slide 3, map; slide 4, chart: ")
    assert "sources" in slides[0]["foot"].rsplit("slide 5", 1)[1]
    assert sizes["level"] >= 28 and sizes["index"] >= 28 and min(sizes["values"]) >= 28
    assert min(sizes["details"]) >= 18


@pytest.mark.browser
def test_pdf_holds_the_as_of_date_and_the_marking_on_every_page(tmp_path):
    from pypdf import PdfReader

    require_chromium()
    out = tmp_path / "briefing.pdf"
    result = snapshot(DEFAULT_WATCHLIST, "--out", out)
    assert result.exit_code == 0, result.output
    pages = [page.extract_text() for page in PdfReader(out).pages]
    assert len(pages) >= 2
    assert "2022-10-17" in pages[0]
    assert all("UNCLASSIFIED // OPEN SOURCE" in text for text in pages)
    # the first page shows the marking once at the top and once at the bottom, not twice over
    assert pages[0].count("UNCLASSIFIED // OPEN SOURCE") == 2
    assert any("Sources cited" in text for text in pages)


@pytest.mark.browser
def test_export_never_hangs_past_its_time_limit(tmp_path):
    require_chromium()
    out = tmp_path / "b.png"
    started = time.monotonic()
    result = snapshot(DEFAULT_WATCHLIST, "--out", out, "--timeout", "0.05")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert result.stderr.endswith("the browser did not finish the PNG within 0.05 s; nothing was written. Try again, "
                                  "or export HTML.\n")
    assert elapsed < 20  # the limit holds: a normal PNG takes 4-5 s, a hung browser would take forever
    assert not out.exists()


def test_briefing_charts_show_the_last_90_days_or_from_since_when_earlier(tmp_path):
    from indicators.views.briefing import build_briefing_html, default_options

    loaded = load_watchlist(DEFAULT_WATCHLIST)
    html = build_briefing_html(loaded, default_options(loaded), plotly_js="")
    assert "charts from <b>2022-07-20</b>" in html
    ranges = re.findall(r'"xaxis":\{.*?"range":\["([0-9-]+)', html)
    assert ranges and all(start.startswith("2022-07-1") for start in ranges)  # 2022-07-20 less a little room
    earlier = build_briefing_html(loaded, default_options(loaded, since=pd.Timestamp("2022-01-01").date()),
                                  plotly_js="")
    assert "charts from <b>2022-01-01</b>" in earlier


def test_hostile_names_stay_text_in_the_briefing(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    folder = write_watchlist(tmp_path / "w", [indicator(name=hostile)], f'2022-10-16,troops,25,"{hostile}",,,,,,\n',
                             as_of="2022-10-17", title=hostile, marking=hostile)
    out = tmp_path / "b.html"
    assert snapshot(folder, "--out", out).exit_code == 0
    html = out.read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
