"""The situation board: the Overview read at a glance. The overall level with its 90-day index strip and
reasons, one line per scenario, and one compact row per indicator grouped by category, with the
indicators that have no data or are stale folded into one line per group. HTML fragments; every
piece of data is escaped."""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import urlencode

import numpy as np

from ..engine.evaluate import IndicatorStatus, OverallStatus
from ..engine.report import format_value, not_current, short_value_phrase, value_phrase
from ..engine.scenarios import SEEN, UNKNOWN
from ..format.models import Level

from .figures import sparkline_html
from .render import _change_text, level_badge
from .theme import LEVEL_COLOURS, LEVEL_WORDS, MUTED, SCORE_LEVELS, STALE_COLOUR, level_fill

SITUATION_CSS = """
<style>
.wf-sit-overall {display:grid; grid-template-columns:auto 300px 1fr; gap:4px 22px; align-items:center;
  border:1px solid #D0D0D0; border-left-width:10px; border-radius:4px; padding:8px 14px; background:#FAFAFA;}
.wf-sit-level .wf-badge {font-size:22px; padding:4px 14px;}
.wf-sit-index {font-size:30px; font-weight:800; margin-left:8px; vertical-align:middle;}
.wf-sit-why {font-size:14px; line-height:1.35;}
.wf-sit-why .wf-muted {font-size:13px;}
.wf-sit-head {font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:#555555; margin:10px 0 4px 0;
  font-weight:600;}
.wf-sit-scenario {display:grid; grid-template-columns:110px minmax(260px, 1.3fr) 210px minmax(120px, .5fr) 1.6fr;
  gap:2px 12px; align-items:center; padding:3px 0; border-bottom:1px solid #EEEEEE; font-size:14px;}
.wf-sit-scenario .wf-badge, .wf-sit-row .wf-badge {width:100%; box-sizing:border-box; text-align:center;}
.wf-signs {display:flex; gap:3px; flex-wrap:wrap;}
.wf-sign {display:inline-block; min-width:18px; height:18px; line-height:18px; text-align:center; font-size:12px;
  border:1px solid #555; border-radius:3px; background:#FFFFFF; color:#1A1A1A;}
.wf-sign-unknown {border-style:dashed; background:#F0F0F0; color:#555555;}
.wf-sit-groups {columns:2 440px; column-gap:28px;}
.wf-sit-group {break-inside:avoid; margin-bottom:8px;}
.wf-sit-group h3 {font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:#555555; margin:4px 0 2px 0;}
.wf-sit-row {display:grid; grid-template-columns:88px minmax(120px, 1.25fr) minmax(96px, 1fr) 40px 14px 60px;
  gap:0 8px; align-items:center; padding:2px 0; border-bottom:1px solid #EEEEEE; font-size:14px; line-height:1.25;}
.wf-sit-row a, .wf-sit-scenario a {color:#1A1A1A; text-decoration:none;}
.wf-sit-row a:hover, .wf-sit-scenario a:hover {text-decoration:underline;}
.wf-sit-value {font-weight:700;}
.wf-sit-folded a {color:#1A1A1A; text-decoration:underline dotted;}
.wf-sit-age {color:#555555; font-size:13px; text-align:right; white-space:nowrap;}
.wf-sit-arrow {text-align:center; font-size:13px;}
.wf-sit-folded {font-size:13px; color:#555555; padding:2px 0; border-bottom:1px solid #EEEEEE;}
.wf-sit-folded b {color:#1A1A1A;}
.wf-sit-row .wf-spark {margin-top:0;}
</style>
"""


def page_link(page: str, **params) -> str:
    """A link to another page of the app keeping the view (the dates) in its query."""
    query = urlencode({key: value for key, value in params.items() if value})
    return f"{page}?{query}" if query else page


def index_sparkline(index: np.ndarray, levels: np.ndarray, height: int = 34) -> str:
    """The overall index over the last days as bars (height: the index, colour: the overall level that
    day); grey where nothing was current. Plain HTML, like the level strips."""
    if not len(index):
        return ""
    bars = []
    for value, level in zip(index, levels):
        if np.isnan(value) or level < 0:
            bars.append(f'<span style="flex-grow:1;height:3px;background:{STALE_COLOUR}"></span>')
            continue
        colour = LEVEL_COLOURS[SCORE_LEVELS[int(level)]]
        bars.append(f'<span style="flex-grow:1;height:{max(2, round(height * value / 100))}px;background:{colour}">'
                    "</span>")
    return (f'<div class="wf-spark" style="height:{height}px;border-bottom:1px solid #BDBDBD" role="img" '
            f'aria-label="overall index over the last {len(index)} days">{"".join(bars)}</div>')


def overall_strip(overall: OverallStatus, statuses: list[IndicatorStatus], as_of: dt.date, index: np.ndarray,
                  levels: np.ndarray, name_indicators: bool = True) -> str:
    """The overall level as a large word and colour, the index, its 90-day strip, coverage, the
    reasons in plain sentences, and (``name_indicators``, where no card says so) by name the
    indicators that drive it and every indicator left out of the index."""
    names = {status.indicator.id: status.indicator.name for status in statuses}
    shown = "&ndash;" if overall.index is None else f"{overall.index:.1f}"
    reasons = "; ".join(f'<span class="wf-reason">{escape(reason)}</span>' for reason in overall.reasons)
    left_out = "; ".join(f"{heading}: " + ", ".join(escape(names[i]) for i in ids)
                         for heading, ids in not_current(statuses).items() if ids)
    drivers = ", ".join(escape(names.get(i, i)) for i in overall.drivers) or "no current indicator above normal"
    border = LEVEL_COLOURS[overall.level]
    days = len(index)
    return (f'<div class="wf-sit-overall" data-overall-level="{overall.level.value}" '
            f'style="border-left-color:{border}">'
            f'<div class="wf-sit-level"><div class="wf-muted">Overall as of {as_of.isoformat()}</div>'
            f'{level_badge(overall.level)}<span class="wf-sit-index">{shown}</span>'
            f'<span class="wf-muted"> / 100</span></div>'
            f'<div>{index_sparkline(index, levels)}<div class="wf-muted">index, last {days} days</div></div>'
            f'<div class="wf-sit-why"><b>{overall.current} of {overall.total} indicators current.</b> '
            + (f"Why: {reasons}" if reasons else "")
            + (f'<div class="wf-muted">Driven by: {drivers}</div>' if name_indicators else "")
            + (f'<div class="wf-muted wf-left-out">Not counted &mdash; {left_out}</div>'
               if left_out and name_indicators else "")
            + "</div></div>")


SIGN_SYMBOLS = {SEEN: "&#10003;", "unseen": "&#9675;", UNKNOWN: "?"}


def scenario_lines(scenarios, statuses: list[IndicatorStatus], judgments: dict[str, str], as_of: dt.date) -> str:
    """One line per scenario: its level, name, how many signs are seen, each sign as a small mark
    (hover: the indicator and its level), and the standing judgment in words."""
    if not scenarios:
        return ""
    names = {status.indicator.id: status.indicator.name for status in statuses}
    lines = []
    for status in scenarios:
        marks = []
        for item in status.signs:
            name = names.get(item.sign.indicator, item.sign.indicator)
            word = "STALE" if item.score == -2 else LEVEL_WORDS[SCORE_LEVELS[item.score]]
            style = f' style="{level_fill(SCORE_LEVELS[item.score])}"' if item.state == SEEN else ""
            marks.append(f'<span class="wf-sign wf-sign-{item.state}" data-state="{item.state}"{style} '
                         f'title="{escape(name)}: {word} ({item.state}; {item.sign.strength} sign at '
                         f'{LEVEL_WORDS[Level(item.sign.at)]})">{SIGN_SYMBOLS[item.state]}</span>')
        strong = f" ({status.strong_seen} strong)" if status.strong_seen else ""
        link = page_link("scenarios", as_of=as_of.isoformat())
        lines.append(f'<div class="wf-sit-scenario" data-scenario="{escape(status.scenario.id)}" '
                     f'data-level="{status.level.value}">{level_badge(status.level)}'
                     f'<a href="{link}" target="_self"><b>{escape(status.scenario.name)}</b></a>'
                     f"<span>{status.seen_count} of {len(status.signs)} signs seen{strong}</span>"
                     f'<span class="wf-signs">{"".join(marks)}</span>'
                     f"<span>{judgments.get(status.scenario.id, '')}</span></div>")
    return '<div class="wf-sit-head">Scenarios</div>' + "".join(lines)


def _arrow(before: IndicatorStatus | None, after: IndicatorStatus, since: dt.date) -> str:
    """The change since the comparison date as one mark with the sentence as its hover text."""
    if before is None:
        return ""
    text = _change_text(before, after, since)
    mark = "&#9650;" if "&#9650;" in text else "&#9660;" if "&#9660;" in text else "&#8594;" if "unchanged" in text \
        else ""
    hover = escape(text.replace("&#9650;", "up").replace("&#9660;", "down").replace("&#8594;", ""), quote=True)
    return f'<span class="wf-sit-arrow" title="{hover}">{mark}</span>'


def indicator_row(status: IndicatorStatus, before: IndicatorStatus | None, since: dt.date, strip: str,
                  as_of: dt.date) -> str:
    indicator = status.indicator
    value, full = short_value_phrase(status), value_phrase(status)
    age = f"{status.age_days} d" if status.age_days is not None else ""
    link = page_link("indicator", indicator=indicator.id, as_of=as_of.isoformat())
    held = " (held)" if status.held else ""
    return (f'<div class="wf-sit-row" data-indicator="{escape(indicator.id)}" data-level="{status.level.value}">'
            f"{level_badge(status.level)}"
            f'<a href="{link}" target="_self" title="{escape(indicator.description[:300], quote=True)}">'
            f"{escape(indicator.name)}</a>"
            f'<span class="wf-sit-value" title="{escape(full, quote=True)}">{escape(value)}{held}</span>'
            f'<span class="wf-sit-age">{age}</span>{_arrow(before, status, since)}{strip}</div>')


def folded_line(statuses: list[IndicatorStatus], as_of: dt.date) -> str:
    """Indicators with no data and stale ones of a group, each kind on one line, named."""
    lines = []
    missing = [s for s in statuses if s.level is Level.NO_DATA]
    stale = [s for s in statuses if s.stale and s.level is not Level.NO_DATA]
    if missing:
        names = ", ".join(f'<a href="{page_link("indicator", indicator=s.indicator.id, as_of=as_of.isoformat())}" '
                          f'target="_self" data-indicator="{escape(s.indicator.id)}" data-level="no_data">'
                          f"{escape(s.indicator.name)}</a>" for s in missing)
        lines.append(f'<div class="wf-sit-folded" data-folded="no_data"><b>{len(missing)} without data:</b> '
                     f"{names}</div>")
    if stale:
        names = ", ".join(f'<a href="{page_link("indicator", indicator=s.indicator.id, as_of=as_of.isoformat())}" '
                          f'target="_self" data-indicator="{escape(s.indicator.id)}" data-level="{s.level.value}" '
                          f'data-stale="true">{escape(s.indicator.name)}</a> (last {LEVEL_WORDS[s.level]}, '
                          f"{escape(format_value(s.value)) if s.label is None else escape(s.label)}, "
                          f"{s.age_days} d old)" for s in stale)
        lines.append(f'<div class="wf-sit-folded" data-folded="stale" style="color:{MUTED}"><b>{len(stale)} stale:'
                     f"</b> {names}</div>")
    return "".join(lines)


def indicator_board(statuses: list[IndicatorStatus], before: list[IndicatorStatus], since: dt.date,
                    recent: dict, as_of: dt.date) -> str:
    """Every indicator as one compact row, grouped by category; no-data and stale indicators folded
    into one line per group."""
    previous = {status.indicator.id: status for status in before}
    groups: dict[str, list[IndicatorStatus]] = {}
    for status in statuses:
        groups.setdefault(status.indicator.category, []).append(status)
    sections = []
    for category, members in groups.items():
        live = [s for s in members if s.is_current]
        rows = "".join(indicator_row(s, previous.get(s.indicator.id), since,
                                     sparkline_html(recent[s.indicator.id], height=18), as_of) for s in live)
        sections.append(f'<section class="wf-sit-group"><h3>{escape(category)}</h3>{rows}'
                        f"{folded_line(members, as_of)}</section>")
    return f'<div class="wf-sit-head">Indicators</div><div class="wf-sit-groups">{"".join(sections)}</div>'
