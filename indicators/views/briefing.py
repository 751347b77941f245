"""The briefing: one self-contained HTML document (plotly.js inline) that PNG and PDF are made from.

A briefing is a sequence of blocks: the overall level, the scenarios, a card per indicator (above
16 indicators: cards for the raised, stale and no-data ones and a compact line for each of the rest),
what changed, the charts, the sources. As slides (1920x1080) the blocks fill one slide after another,
in order, and what does not fit goes to the next slide, never dropped: the first slide's foot says
what the next ones hold. On A4 they flow down the pages.

Pure function of the data and the options: the same inputs give the same bytes (pin ``made_at``).
No Streamlit here; the CLI's ``snapshot`` and the app's download both call ``build_briefing_html``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from ..engine.backtest import level_history
from ..engine.changes import events_between, known_events, known_observations, level_changes, observations_between
from ..engine.evaluate import prepare_arrays
from ..engine.report import short_value_phrase
from ..engine.rules import evaluate_watchlist
from ..engine.timeseries import indicator_values_over_time, level_scores_over_time
from ..feeds.query import feed_lines_as_of
from ..store.loader import LoadedWatchlist, watchlist_fingerprint

from .board import judgment_extras
from .figures import build_timeline_figure, event_legend_html, numbered_events, recent_scores, sparkline_html
from .map_figure import briefing_map_html
from .render import CSS, changes_list, level_badge, marking_banner, status_card
from .situation import SITUATION_CSS, overall_strip, scenario_lines

CHART_SIZES = {"slide": (905, 380), "a4": (940, 300)}
MAX_CHARTS_DEFAULT = 6
STRIP_DAYS = 90
CHART_DAYS = 90  # charts show the last 90 days (or from --since, when earlier): the week that matters reads
FULL_CARDS_UP_TO = 16  # above this many indicators the quiet ones become one line each
MAX_CHANGES = {"slide": 5, "a4": 14}  # new reports listed; the level changes and events are always all there

BRIEFING_CSS = """
<style>
body {margin:0; font-family: Inter, 'Helvetica Neue', Arial, sans-serif; color:#1A1A1A; background:#FFFFFF;}
.wf-when {color:#555555;}
.wf-block-full {flex:0 0 100%;}
.wf-chart {break-inside:avoid;}
.wf-sources {columns:3; column-gap:24px;}
.wf-compact {display:flex; align-items:center; gap:10px; width:440px; border-bottom:1px solid #EEEEEE;}
.wf-compact .wf-badge {min-width:104px; text-align:center; box-sizing:border-box;}
.wf-compact span.wf-name {flex:1; white-space:nowrap; overflow:hidden; text-overflow:ellipsis;}
.wf-card .wf-category {text-transform:uppercase; letter-spacing:.05em; color:#555555;}
/* slides: 1920x1080 each, read from the back of a room */
body.slide .wf-slide {width:1920px; height:1080px; box-sizing:border-box; padding:0 30px; display:flex;
  flex-direction:column; overflow:hidden; background:#FFFFFF; break-after:page; page-break-after:always;}
body.slide .wf-banner {font-size:18px; padding:5px; margin-top:8px;}
body.slide .wf-slide > .wf-banner:last-child {margin:0 0 8px 0;}
body.slide .wf-slide-head {margin:6px 0 10px 0;}
body.slide .wf-slide-head h1 {font-size:38px; margin:0; line-height:1.15; white-space:nowrap; overflow:hidden;
  text-overflow:ellipsis;}
body.slide .wf-slide-head .wf-when {font-size:20px;}
body.slide .wf-slide-body {flex:1 1 auto; min-height:0; display:flex; flex-wrap:wrap; align-content:flex-start;
  align-items:flex-start; gap:14px 16px; overflow:hidden;}
body.slide .wf-slide-foot {font-size:17px; color:#555555; margin:6px 0 4px 0; min-height:22px;}
body.slide .wf-sit-overall {padding:10px 18px; grid-template-columns:auto 360px 1fr;}
body.slide .wf-sit-level .wf-badge {font-size:32px; padding:6px 18px;}
body.slide .wf-sit-index {font-size:44px;}
body.slide .wf-sit-why, body.slide .wf-sit-why .wf-muted, body.slide .wf-sit-level .wf-muted,
body.slide .wf-sit-overall .wf-muted {font-size:19px;}
body.slide .wf-sit-head {font-size:18px; margin:0 0 4px 0;}
body.slide .wf-sit-scenario {font-size:19px; grid-template-columns:150px minmax(420px, 1.3fr) 300px minmax(150px, .4fr)
  1.5fr; padding:4px 0;}
body.slide .wf-sit-scenario .wf-badge {font-size:18px;}
body.slide .wf-sign {font-size:16px; min-width:24px; height:24px; line-height:24px;}
body.slide .wf-card {width:var(--card-width); box-sizing:border-box; margin:0; padding:10px 14px;
  border-left-width:12px;}
body.slide .wf-card .wf-badge {font-size:18px;}
body.slide .wf-card h4 {font-size:21px; margin:6px 0 2px 0;}
body.slide .wf-card .wf-value, body.slide .wf-card .wf-label {font-size:28px; line-height:1.15;}
body.slide .wf-card .wf-spark {height:18px !important;}
body.slide .wf-card .wf-muted, body.slide .wf-card .wf-stale, body.slide .wf-card .wf-flag {font-size:18px;}
body.slide .wf-compact {font-size:19px; width:445px; padding:3px 0;}
body.slide .wf-compact .wf-badge {font-size:16px;}
body.slide .wf-changes {font-size:18px;}
body.slide .wf-block[data-name="what changed"] {flex:0 0 905px;}
body.slide .wf-block-title {font-size:20px; font-weight:700; margin-bottom:4px;}
body.slide .wf-event-legend {font-size:17px !important;}
body.slide .wf-footer {font-size:15px; color:#555555;}
/* A4: the same blocks flowing down printed pages */
body.a4 .wf-page {width:1000px; padding:10px 28px; box-sizing:border-box;}
body.a4 .wf-slide-head h1 {font-size:30px; margin:6px 0 0 0;}
body.a4 .wf-slide-body {display:flex; flex-wrap:wrap; gap:10px 14px;}
body.a4 .wf-card {width:300px; box-sizing:border-box; margin:0; break-inside:avoid;}
body.a4 .wf-sit-groups {columns:1;}
body.a4 .wf-footer {font-size:12px; color:#555555; border-top:1px solid #D0D0D0; padding-top:6px;}
body.a4 .wf-sources {columns:2;}
body.a4 .wf-block-title {font-weight:700; margin:6px 0 2px 0;}
@page {size:A4 portrait; margin:14mm 8mm 14mm 8mm;}
</style>
"""

# Slides: every block goes onto the current slide; one that does not fit starts the next slide. The
# first slide's foot names what each further slide holds. The names are set as text, never as HTML.
PAGINATE_SLIDES_JS = """<script>
(function () {
  var deck = document.getElementById('wf-deck'), template = document.getElementById('wf-slide-template');
  var blocks = Array.prototype.slice.call(document.querySelectorAll('#wf-blocks > .wf-block')), slides = [];
  function newSlide() { var slide = template.content.firstElementChild.cloneNode(true); deck.appendChild(slide);
    slides.push({node: slide, names: []}); return slide.querySelector('.wf-slide-body'); }
  function overflows(body) { return body.scrollHeight > body.clientHeight + 1 || body.scrollWidth > body.clientWidth + 1; }
  var body = newSlide();
  blocks.forEach(function (block) {
    body.appendChild(block);
    if (overflows(body) && body.children.length > 1) { body.removeChild(block); body = newSlide(); body.appendChild(block); }
    var name = block.getAttribute('data-name'), list = slides[slides.length - 1].names;
    if (name && list.indexOf(name) < 0) { list.push(name); }
  });
  document.getElementById('wf-blocks').remove();
  slides.forEach(function (slide, i) {
    var foot = slide.node.querySelector('.wf-slide-foot'), text = 'Slide ' + (i + 1) + ' of ' + slides.length;
    if (i === 0 && slides.length > 1) {
      text += '. Continued: ' + slides.slice(1).map(function (s, j) {
        return 'slide ' + (j + 2) + ', ' + s.names.join(', '); }).join('; ') + '.';
    }
    foot.textContent = text;
    slide.node.querySelector('.wf-slide-number').textContent = slides.length > 1 ? ' \u00b7 slide ' + (i + 1) + ' of ' + slides.length : '';
  });
  document.body.setAttribute('data-slides', String(slides.length));
})();
</script>"""


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


def block(html: str, name: str = "", full: bool = False) -> str:
    """One block of the briefing; ``name`` says what it is in the slides' foot."""
    return (f'<div class="wf-block{" wf-block-full" if full else ""}" data-name="{escape(name, quote=True)}">'
            f"{html}</div>")


def compact_line(status) -> str:
    """One quiet indicator on one line: its level, name and value."""
    value = short_value_phrase(status)
    return (f'<div class="wf-compact" data-indicator="{escape(status.indicator.id)}" '
            f'data-level="{status.level.value}">{level_badge(status.level)}<span class="wf-name">'
            f"{escape(status.indicator.name)}</span><span>{escape(value)}</span></div>")


def indicator_blocks(statuses, before, since: dt.date, recent: dict) -> list[str]:
    """A card per indicator; above FULL_CARDS_UP_TO indicators, cards for the raised, stale and no-data
    ones (most escalated first) and a compact line for each quiet, current one."""
    previous = {status.indicator.id: status for status in before}
    full = statuses if len(statuses) <= FULL_CARDS_UP_TO else [
        s for s in statuses if not s.is_current or (s.level.score or 0) >= 1]
    if len(full) < len(statuses):
        full = sorted(full, key=lambda s: (not s.is_current, -(s.level.score or 0) * s.indicator.weight))
    blocks = [block(status_card(s, previous.get(s.indicator.id), since, sparkline_html(recent[s.indicator.id]),
                                slide=True), "indicator cards") for s in full]
    shown = {id(s) for s in full}
    blocks += [block(compact_line(s), "indicator list") for s in statuses if id(s) not in shown]
    return blocks


def build_briefing_html(loaded: LoadedWatchlist, options: BriefingOptions, plotly_js: str | None = None) -> str:
    """The whole briefing as one HTML document; ``plotly_js`` defaults to ``briefing_plotly_js()``."""
    if plotly_js is None:
        plotly_js = briefing_plotly_js()
    watchlist = loaded.watchlist
    unknown = [i for i in options.indicator_ids if i not in {x.id for x in watchlist.indicators}]
    if unknown:
        raise KeyError(f"no indicator {', '.join(unknown)} in this watchlist")
    slide = options.size == "slide"
    arrays = prepare_arrays(watchlist, loaded.observations)
    statuses, overall = evaluate_watchlist(watchlist, loaded.observations, options.as_of, arrays)
    before, _ = evaluate_watchlist(watchlist, loaded.observations, options.since, arrays)
    indicators = {indicator.id: indicator for indicator in watchlist.indicators}
    first = min(loaded.first_observation_date(options.as_of), options.as_of)
    # the index strip and each scenario's latest change need the days from the first row, not the strip's
    history = level_history(watchlist, loaded.observations, first, options.as_of)
    strip = history.reindex(pd.date_range(options.as_of - dt.timedelta(days=STRIP_DAYS - 1), options.as_of,
                                          freq="D")).fillna({"level": -1})
    scores = level_scores_over_time(watchlist, loaded.observations,
                                    options.as_of - dt.timedelta(days=STRIP_DAYS - 1), options.as_of)
    recent = recent_scores(scores, options.as_of, STRIP_DAYS)
    new_rows = observations_between(loaded.observations, options.since, options.as_of)
    changes = changes_list(level_changes(before, statuses), new_rows,
                           events_between(loaded.events, options.since, options.as_of), indicators,
                           max_reports=MAX_CHANGES[options.size])
    chart_start = max(options.chart_start, first)  # charts start at the first data, not months before it
    # on a slide every indicator's card says whether it counts: the overall block keeps to the why
    blocks = [block(overall_strip(overall, statuses, options.as_of, strip["index"].to_numpy(),
                                  strip["level"].to_numpy(), name_indicators=not slide), "overall level", full=True)]
    if overall.scenarios:
        judgments = judgment_extras(overall.scenarios, loaded.judgments, options.as_of, history, compact=True)
        blocks.append(block(scenario_lines(overall.scenarios, statuses, judgments, options.as_of), "scenarios",
                            full=True))
    blocks += indicator_blocks(statuses, before, options.since, recent)
    blocks.append(block(f'<div class="wf-block-title">What changed since {options.since.isoformat()}</div>'
                        f"{changes}", "what changed", full=True))
    map_html = briefing_map_html(loaded, options.as_of, chart_start, options.size)
    if map_html:  # the map of the as-of date, when rows of the watchlist have places
        blocks.append(block(map_html, "map", full=True))
    blocks += chart_blocks(loaded, statuses, options, chart_start)
    blocks.append(block(footer_html(loaded, statuses, new_rows, options), "sources", full=True))
    return page_html(loaded, options, chart_start, blocks, plotly_js, len(watchlist.indicators))


def chart_blocks(loaded: LoadedWatchlist, statuses, options: BriefingOptions, chart_start: dt.date) -> list[str]:
    """A timeline per charted indicator over the chart days, events numbered in the lane, and the
    numbered events once, after the charts."""
    width, height = CHART_SIZES[options.size]
    known = known_observations(loaded.observations, options.as_of)
    events = known_events(loaded.events, options.as_of)
    blocks = []
    for status in charted_indicators(statuses, options.indicator_ids):
        indicator = status.indicator
        rows = known[(known["indicator"] == indicator.id) & (known["date"] >= pd.Timestamp(chart_start))]
        daily = indicator_values_over_time(indicator, loaded.observations, chart_start, options.as_of)
        figure = build_timeline_figure(indicator, rows, events, chart_start, options.as_of, options.as_of, daily)
        figure.update_layout(width=width, height=height, margin=dict(l=70, r=90, t=40, b=30), showlegend=False,
                             title=dict(font=dict(size=20)), font=dict(size=15))
        figure.update_xaxes(nticks=5, tickangle=0)
        html = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{indicator.id}",
                              config={"staticPlot": False, "displaylogo": False, "responsive": False})
        blocks.append(block(f'<div class="wf-chart" data-name="{escape(indicator.name)}" '
                            f'style="width:{width}px;height:{height}px">{html}</div>', f"chart: {indicator.name}"))
    numbered = numbered_events(events, chart_start, options.as_of)
    if blocks and numbered:
        blocks.append(block('<div class="wf-block-title">Events on the charts</div>' + event_legend_html(numbered),
                            "events on the charts", full=True))
    return blocks


def footer_html(loaded: LoadedWatchlist, statuses, new_rows: pd.DataFrame, options: BriefingOptions) -> str:
    """Sources cited with their grades, each feed as known on the date, when and from what it was made."""
    made_at = options.made_at or dt.datetime.now().replace(microsecond=0)
    sources = _sources_cited(statuses, new_rows)
    feeds = "".join(f"<div>{escape(line)}</div>" for line in feed_lines_as_of(loaded.feeds, loaded.observations,
                                                                           options.as_of))
    return ('<div class="wf-footer"><b>Sources cited</b> (Admiralty grade)'
            f'<div class="wf-sources">{"<br>".join(escape(source) for source in sources) or "none"}</div>{feeds}'
            f"<div>Made {made_at.isoformat(sep=' ')} by Watchfloor from {escape(loaded.folder.name)}; "
            f"data fingerprint SHA-256 {watchlist_fingerprint(loaded.folder)}</div></div>")


def page_html(loaded: LoadedWatchlist, options: BriefingOptions, chart_start: dt.date, blocks: list[str],
              plotly_js: str, indicators: int) -> str:
    watchlist = loaded.watchlist
    marking = "" if options.page_bands else marking_banner(watchlist.marking)
    when = (f'<div class="wf-when">{escape(watchlist.theatre)}{" · " if watchlist.theatre else ""}Status as of '
            f"<b>{options.as_of.isoformat()}</b>; changes since <b>{options.since.isoformat()}</b>; charts from "
            f'<b>{chart_start.isoformat()}</b><span class="wf-slide-number"></span></div>')
    head = f'<div class="wf-slide-head"><h1>{escape(watchlist.title)}</h1>{when}</div>'
    columns = 4 if indicators <= 8 else 6
    card_width = f"{(1860 - 16 * (columns - 1)) // columns}px"
    start = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{escape(watchlist.title)} - {options.as_of.isoformat()}</title>",
             f"<script>{plotly_js}</script>", CSS, SITUATION_CSS, BRIEFING_CSS, "</head>"]
    if options.size == "slide":
        return "".join(start + [
            f'<body class="slide" style="--card-width:{card_width}">',
            f'<template id="wf-slide-template"><section class="wf-slide">{marking}{head}'
            f'<div class="wf-slide-body"></div><div class="wf-slide-foot"></div>{marking}</section></template>',
            '<div id="wf-deck"></div>', f'<div id="wf-blocks">{"".join(blocks)}</div>', PAGINATE_SLIDES_JS,
            "</body></html>\n"])
    return "".join(start + [
        f'<body class="{options.size}"><div class="wf-page">', marking, head,
        f'<div class="wf-slide-body">{"".join(blocks)}</div>', marking, "</div></body></html>\n"])

