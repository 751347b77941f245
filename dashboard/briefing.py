"""The briefing: one self-contained HTML document (plotly.js inline) that PNG and PDF are made from.

Pure function of the data and the options: the same inputs give the same bytes (pin ``made_at``).
No Streamlit here; the CLI's ``snapshot`` and the app's download both call ``build_briefing_html``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from indicators.feeds import feed_lines_as_of
from indicators.changes import (events_between, known_events, known_observations, level_changes,
                                observations_between)
from indicators.backtest import level_history
from indicators.evaluate import prepare_arrays
from indicators.rules import evaluate_watchlist
from indicators.loader import LoadedWatchlist, watchlist_fingerprint
from indicators.timeseries import indicator_values_over_time, level_scores_over_time

from .board import judgment_extras, scenario_board
from .export import SIZES
from .figures import build_timeline_figure, recent_scores
from .render import CSS, changes_list, marking_banner, overall_panel, status_cards

CHART_SIZES = {"slide": (610, 170), "a4": (940, 260)}
MAX_CHARTS_DEFAULT = 6
STRIP_DAYS = 90
CHART_DAYS = 90  # charts show the last 90 days (or from --since, when earlier): the week that matters reads

BRIEFING_CSS = """
<style>
body {margin:0; font-family: Inter, 'Helvetica Neue', Arial, sans-serif; color:#1A1A1A; background:#FFFFFF;}
.wf-page {padding:10px 28px; box-sizing:border-box;}
.wf-head {display:flex; justify-content:space-between; align-items:flex-end; gap:24px; margin:10px 0 8px 0;}
.wf-head h1 {font-size:30px; margin:0;}
.wf-main {display:flex; gap:22px; align-items:flex-start;}
.wf-side {flex:0 0 520px; font-size:14px;}
.wf-charts {display:flex; flex-wrap:wrap; gap:8px 14px; margin-top:10px;}
.wf-chart {break-inside:avoid;}
.wf-footer {margin-top:10px; font-size:12px; color:#555555; border-top:1px solid #D0D0D0; padding-top:6px;}
.wf-footer .wf-sources {columns:3; column-gap:24px;}
body.a4 .wf-main {flex-direction:column;}
body.a4 .wf-group-cards .wf-card {width:282px;}
body.a4 .wf-card, body.a4 .wf-group {break-inside:avoid;}
body.a4 .wf-footer .wf-sources {columns:2;}
.wf-group-cards .wf-card {min-height:0; width:240px; padding:6px 10px;}
body.slide .wf-group-cards .wf-card {width:190px; padding:4px 8px;}
body.slide .wf-side {flex-basis:430px; font-size:13px;}
body.slide .wf-changes {font-size:12.5px;}
body.slide .wf-groups {gap:2px 16px;}
body.slide .wf-group-cards {gap:8px;}
body.slide .wf-card h4 {font-size:13px; margin:3px 0 1px 0;}
body.slide .wf-value {font-size:16px; line-height:1.15;}
body.slide .wf-label {font-size:15px;}
body.slide .wf-muted {font-size:12px;}
body.slide .wf-group h3 {margin:2px 0 3px 0; font-size:12px;}
body.slide .wf-overall {padding:6px 12px;}
body.slide .wf-head {margin:4px 0 4px 0;}
body.slide .wf-head h1 {font-size:26px;}
@page {size:A4 portrait; margin:14mm 8mm 14mm 8mm;}
</style>
"""


# A slide is one screen: when the cards leave too little room, the last charts (the least escalated)
# make way, and the footer names them. The names are set as text, never as HTML.
FIT_SLIDE_JS = """<script>
(function () {
  var limit = %d, charts = Array.prototype.slice.call(document.querySelectorAll('.wf-chart')), left = [];
  var note = document.getElementById('wf-left-out');
  function tooTall() { return document.documentElement.scrollHeight > limit; }
  while (tooTall() && charts.length) {
    var chart = charts.pop();
    left.unshift(chart.getAttribute('data-name'));
    chart.parentNode.removeChild(chart);
    note.textContent = left.length + (left.length === 1 ? ' chart' : ' charts') +
      ' left out to fit the slide (see the app): ' + left.join(', ') + '.';
  }
})();
</script>""" % SIZES["slide"][1]


@dataclass(frozen=True)
class BriefingOptions:
    as_of: dt.date
    since: dt.date
    indicator_ids: tuple[str, ...] = ()  # charted indicators; empty: those at elevated or above
    size: str = "slide"
    made_at: dt.datetime | None = None
    page_bands: bool = False  # PDF: Chromium prints the marking on every page, so the page omits its banners

    @property
    def chart_start(self) -> dt.date:
        return min(self.since, self.as_of - dt.timedelta(days=CHART_DAYS - 1))


def default_options(loaded: LoadedWatchlist, as_of: dt.date | None = None, since: dt.date | None = None,
                    indicator_ids=(), size: str = "slide", made_at: dt.datetime | None = None,
                    page_bands: bool = False) -> BriefingOptions:
    as_of = as_of or loaded.default_as_of()
    return BriefingOptions(as_of, since or as_of - dt.timedelta(days=7), tuple(indicator_ids), size, made_at,
                           page_bands)


def _sources_cited(statuses, new_rows: pd.DataFrame) -> list[str]:
    cited = {}
    for status in statuses:
        if status.source:
            cited.setdefault(status.source, status.grade)
    for source, reliability, credibility in zip(new_rows["source"], new_rows["reliability"],
                                                new_rows["credibility"]):
        if source:
            cited.setdefault(str(source), f"{reliability}{credibility}")
    return [f"{source} ({grade})" if grade else source for source, grade in sorted(cited.items())]


def charted_indicators(statuses, requested: tuple[str, ...]) -> list:
    if requested:
        by_id = {status.indicator.id: status for status in statuses}
        return [by_id[indicator_id] for indicator_id in requested]
    raised = [s for s in statuses if s.level.score and s.level.score >= 1 and not s.stale]
    return sorted(raised, key=lambda s: -s.level.score * s.indicator.weight)[:MAX_CHARTS_DEFAULT]


BASIC_PLOTLY_JS = Path(__file__).resolve().parent / "vendor" / "plotly-basic.min.js"


def briefing_plotly_js() -> str:
    """plotly.js for briefings: the vendored "basic" bundle (the same plotly.js version as the Python
    package's; scatter only, which is all the briefing draws), a quarter of the full bundle's size."""
    return BASIC_PLOTLY_JS.read_text(encoding="utf-8")


def build_briefing_html(loaded: LoadedWatchlist, options: BriefingOptions, plotly_js: str | None = None) -> str:
    """The whole briefing as one HTML document; ``plotly_js`` defaults to ``briefing_plotly_js()``."""
    if plotly_js is None:
        plotly_js = briefing_plotly_js()
    watchlist = loaded.watchlist
    unknown = [i for i in options.indicator_ids if i not in {x.id for x in watchlist.indicators}]
    if unknown:
        raise KeyError(f"no indicator {', '.join(unknown)} in this watchlist")
    arrays = prepare_arrays(watchlist, loaded.observations)
    statuses, overall = evaluate_watchlist(watchlist, loaded.observations, options.as_of, arrays)
    before, _ = evaluate_watchlist(watchlist, loaded.observations, options.since, arrays)
    indicators = {indicator.id: indicator for indicator in watchlist.indicators}
    # only the days the cards' level strips show (the rules still see every earlier row)
    strip_start = options.as_of - dt.timedelta(days=STRIP_DAYS - 1)
    scores = level_scores_over_time(watchlist, loaded.observations, strip_start, options.as_of)
    cards = status_cards(statuses, before, options.since, recent_scores(scores, options.as_of, STRIP_DAYS))
    judgments = {}
    if overall.scenarios:  # when each scenario's level last changed: from the first row, not the strip's days
        first = loaded.first_observation_date(options.as_of)
        history = level_history(watchlist, loaded.observations, min(first, options.as_of), options.as_of)
        judgments = judgment_extras(overall.scenarios, loaded.judgments, options.as_of, history)
    new_rows = observations_between(loaded.observations, options.since, options.as_of)
    changes = changes_list(level_changes(before, statuses), new_rows,
                           events_between(loaded.events, options.since, options.as_of), indicators,
                           max_reports=3 if options.size == "slide" else 12)
    width, height = CHART_SIZES[options.size]
    chart_start = options.chart_start
    known = known_observations(loaded.observations, options.as_of)
    events = known_events(loaded.events, options.as_of)
    charts = []
    for status in charted_indicators(statuses, options.indicator_ids):
        indicator = status.indicator
        rows = known[(known["indicator"] == indicator.id) & (known["date"] >= pd.Timestamp(chart_start))]
        daily = indicator_values_over_time(indicator, loaded.observations, chart_start, options.as_of)
        figure = build_timeline_figure(indicator, rows, events, chart_start, options.as_of, options.as_of, daily)
        figure.update_layout(width=width, height=height, margin=dict(l=55, r=70, t=32, b=26),
                             title=dict(font=dict(size=15)), showlegend=False)
        figure.update_xaxes(nticks=4, tickangle=0)
        charts.append(f'<div class="wf-chart" data-name="{escape(indicator.name)}">' + figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{status.indicator.id}",
            config={"staticPlot": False, "displaylogo": False, "responsive": False}) + "</div>")
    made_at = options.made_at or dt.datetime.now().replace(microsecond=0)
    sources = _sources_cited(statuses, new_rows)
    marking = "" if options.page_bands else marking_banner(watchlist.marking)
    theatre = escape(watchlist.theatre)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(watchlist.title)} - {options.as_of.isoformat()}</title>",
        f"<script>{plotly_js}</script>", CSS, BRIEFING_CSS, "</head>",
        f'<body class="{options.size}"><div class="wf-page" style="width:{SIZES[options.size][0]}px">',
        marking,
        f'<div class="wf-head"><div><h1>{escape(watchlist.title)}</h1><div class="wf-muted">{theatre}</div></div>',
        f'<div class="wf-muted">Status as of <b>{options.as_of.isoformat()}</b>; changes since '
        f"<b>{options.since.isoformat()}</b>; charts from <b>{chart_start.isoformat()}</b></div></div>",
        overall_panel(overall, statuses, options.as_of),
        scenario_board(overall.scenarios, statuses, judgments),
        '<div class="wf-main"><div>', cards, "</div>",
        f'<div class="wf-side"><b>What changed since {options.since.isoformat()}</b>{changes}</div></div>',
        f'<div class="wf-charts">{"".join(charts)}</div>',
        '<div class="wf-footer"><b>Sources cited</b> (Admiralty grade)'
        f'<div class="wf-sources">{"<br>".join(escape(source) for source in sources) or "none"}</div>',
        "".join(f"<div>{escape(line)}</div>" for line in feed_lines_as_of(loaded.feeds, loaded.observations,
                                                                          options.as_of)),
        f"<div>Made {made_at.isoformat(sep=' ')} by Watchfloor from {escape(loaded.folder.name)}; "
        f"data fingerprint SHA-256 {watchlist_fingerprint(loaded.folder)}</div>",
        '<div id="wf-left-out"></div></div>',
        marking, "</div>", FIT_SLIDE_JS if options.size == "slide" else "", "</body></html>\n",
    ])
