"""HTML fragments for the dashboard. Every piece of data is escaped: a name or note is text, never HTML."""

from __future__ import annotations

import datetime as dt
import re
from html import escape

from ..engine.changes import value_change
from ..engine.evaluate import IndicatorStatus, OverallStatus
from ..engine.report import change_phrase, format_value, not_current, short_value_phrase, value_for_row, value_phrase
from ..format.models import Level

from .figures import sparkline_html
from .theme import LEVEL_COLOURS, LEVEL_WORDS, MUTED, STALE_COLOUR, TEXT_ON_LEVEL

MAX_NEW_REPORTS = 5

CSS = """
<style>
.wf-banner {background:#1A1A1A; color:#FFFFFF; text-align:center; font-weight:700; letter-spacing:.08em;
  padding:4px 8px; font-size:14px; border-radius:2px;}
.wf-badge {display:inline-block; padding:2px 10px; border-radius:3px; font-weight:700; font-size:13px;
  letter-spacing:.04em; border:1px solid rgba(0,0,0,.25);}
.wf-card {border:1px solid #D0D0D0; border-left-width:8px; border-radius:4px; padding:10px 12px;
  background:#FFFFFF; margin-bottom:10px;}
.wf-card-head {display:flex; flex-wrap:wrap; gap:4px 6px; align-items:center;}
.wf-card-head > span {white-space:nowrap;}
.wf-value-stale {color:#8C8C8C !important; font-weight:600 !important;}
.wf-card h4 {margin:6px 0 4px 0; font-size:16px; line-height:1.25; color:#1A1A1A;}
.wf-value {font-size:22px; font-weight:700; color:#1A1A1A; line-height:1.2;}
.wf-muted {color:#555555; font-size:13px;}
.wf-stale {background:#E0E0E0; color:#1A1A1A; border:1px dashed #777; padding:1px 6px; border-radius:3px;
  font-size:12px; font-weight:700;}
.wf-flag {background:#FFF3CD; color:#1A1A1A; border:1px solid #C9A227; padding:1px 6px; border-radius:3px;
  font-size:12px;}
.wf-overall {border:1px solid #D0D0D0; border-radius:4px; padding:12px 16px; background:#FAFAFA;}
.wf-overall .wf-index {font-size:28px; font-weight:800; vertical-align:middle;}
.wf-overall {margin-bottom:8px;}
.wf-spark {display:flex; align-items:flex-end; gap:0; margin-top:6px; width:100%;}
.wf-spark span {flex-basis:0; min-width:1px;}
.wf-groups {display:flex; flex-wrap:wrap; gap:10px 22px; align-items:flex-start;}
.wf-group h3 {font-size:15px; text-transform:uppercase; letter-spacing:.06em; color:#555555; margin:6px 0 6px 0;}
.wf-group-cards {display:flex; flex-wrap:wrap; gap:10px;}
.wf-group-cards .wf-card {width:262px; margin-bottom:0;}
.wf-label {font-size:19px; font-weight:700; color:#1A1A1A; line-height:1.2; margin:2px 0;}
.wf-changes {margin:0; padding-left:1.1em; font-size:14px;}
.wf-changes li {margin-bottom:2px;}
.wf-badge-stale {border:1px dashed #777; font-weight:600;}
.wf-reasons {margin:4px 0 2px 0; font-size:14px; color:#1A1A1A;}
.wf-title {font-size:30px; font-weight:800; margin:8px 0 0 0; color:#1A1A1A;}
</style>
"""

HIDE_CHROME_CSS = """
<style>
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
[data-testid="stAppDeployButton"], #MainMenu {visibility:hidden; height:0;}
.block-container {padding-top:1.2rem; padding-left:2rem; padding-right:2rem;}
</style>
"""


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: str) -> str:
    """Text from data made safe for Streamlit's Markdown (messages, headers, labels, help): every
    ASCII punctuation character is backslash-escaped, so an image, link, colour or formula in a
    name or note shows as the characters it is made of and is never fetched or rendered."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))


def level_badge(level: Level, stale: bool = False) -> str:
    """The level as a coloured word; a stale level is muted grey ("last: CRITICAL"), never bright."""
    if stale:
        return (f'<span class="wf-badge wf-badge-stale" style="background:{STALE_COLOUR};color:{MUTED}">'
                f"last: {LEVEL_WORDS[level]}</span>")
    colour, ink = LEVEL_COLOURS[level], TEXT_ON_LEVEL[level]
    return f'<span class="wf-badge" style="background:{colour};color:{ink}">{LEVEL_WORDS[level]}</span>'


def marking_banner(marking: str) -> str:
    return f'<div class="wf-banner" role="note">{escape(marking)}</div>' if marking else ""


def _change_text(before: IndicatorStatus | None, after: IndicatorStatus, since: dt.date) -> str:
    if before is None:
        return ""
    difference, meaning = value_change(before, after)
    if difference is None:
        return f"no comparison with {since.isoformat()}"
    if meaning == "unchanged":
        return f"&#8594; unchanged since {since.isoformat()}"
    arrow = "&#9650;" if difference > 0 else "&#9660;"
    return (f"{arrow} {'+' if difference > 0 else ''}{escape(format_value(difference))} since {since.isoformat()} "
            f"({meaning})")


def status_card(status: IndicatorStatus, before: IndicatorStatus | None, since: dt.date, sparkline: str,
                slide: bool = False) -> str:
    """One indicator's card: level word and colour, value, date and age, change, badges, sparkline.
    ``slide``: the card of a slide, read from afar: its category beside the level (no category
    headings there), the value short, and the details on as few lines as can be."""
    indicator = status.indicator
    border = STALE_COLOUR if status.stale else LEVEL_COLOURS[status.level]
    parts = [f'<div class="wf-card" data-indicator="{escape(indicator.id)}" data-level="{status.level.value}" '
             f'style="border-left-color:{border}"><div class="wf-card-head">',
             level_badge(status.level, stale=status.stale and status.level is not Level.NO_DATA)]
    if slide:
        parts.append(f'<span class="wf-muted wf-category">{escape(indicator.category)}</span>')
    if status.stale:
        parts.append(f'<span class="wf-stale">STALE: no report for {status.age_days} days</span>' if not slide else
                     f'<span class="wf-stale" title="no report for {status.age_days} days">STALE {status.age_days} d'
                     "</span>")
    if status.disagreement:
        parts.append('<span class="wf-flag" title="several sources on the latest date">&#9888; sources disagree'
                     '</span>')
    parts.append("</div>")
    parts.append(f"<h4>{escape(indicator.name)}</h4>")
    stale = " wf-value-stale" if status.stale else ""  # an old value is not shown bright and bold
    if status.label:
        parts.append(f'<div class="wf-label{stale}">{escape(status.label)}</div>')
        if not slide:
            parts.append(f'<div class="wf-muted">level {escape(format_value(status.value))} on a scale of '
                         f'{format_value(min(indicator.levels))}-{format_value(max(indicator.levels))}</div>')
    else:
        value = short_value_phrase(status) if slide else value_phrase(status)
        parts.append(f'<div class="wf-value{stale}">{escape(value)}</div>')
    if status.change is not None:
        parts.append(f'<div class="wf-muted">{escape(change_phrase(status))}</div>')
    if status.held:
        parts.append(f'<div class="wf-muted"><span class="wf-flag">held</span> for {indicator.hold_days} days; '
                     f"{status.raw_level.word} today</div>")
    meta = []
    if status.date is not None:
        meta.append(f"as of {status.date.isoformat()} ({status.age_days} d old)")
    if indicator.feed is not None and status.source:
        meta.append(f"feed {escape(status.source)}")  # read-only rows from an event dataset
    if status.grade:
        meta.append(f"grade {escape(status.grade)}")
    change = _change_text(before, status, since)
    if slide and change:
        meta.append(change.replace(f" since {since.isoformat()}", "").replace(f" with {since.isoformat()}", ""))
        change = ""
    parts.append(f'<div class="wf-muted">{" &middot; ".join(meta)}</div>')
    if change:
        parts.append(f'<div class="wf-muted">{change}</div>')
    parts.append(sparkline)
    parts.append("</div>")
    return "".join(parts)


def status_cards(statuses, before, since: dt.date, recent: dict) -> str:
    """Every indicator's card, grouped by category, with its change since ``since`` and level strip.

    ``before`` are the statuses on ``since`` (same order); ``recent`` maps an indicator id to its
    recent daily level scores (``figures.recent_scores``).
    """
    previous = {status.indicator.id: status for status in before}
    cards: dict[str, list[str]] = {}
    for status in statuses:
        spark = sparkline_html(recent[status.indicator.id])
        cards.setdefault(status.indicator.category, []).append(
            status_card(status, previous.get(status.indicator.id), since, spark))
    return card_groups(cards)


def card_groups(cards_by_category: dict[str, list[str]]) -> str:
    """Cards grouped under their category headings, groups flowing side by side."""
    groups = "".join(f'<section class="wf-group"><h3>{escape(category)}</h3>'
                     f'<div class="wf-group-cards">{"".join(cards)}</div></section>'
                     for category, cards in cards_by_category.items())
    return f'<div class="wf-groups">{groups}</div>'


def overall_panel(overall: OverallStatus, statuses: list[IndicatorStatus], as_of: dt.date) -> str:
    """The overall level, index and coverage; every driver named, and every indicator left out and why."""
    names = {status.indicator.id: status.indicator.name for status in statuses}
    index = "&ndash;" if overall.index is None else f"{overall.index:.1f}"
    drivers = ", ".join(escape(names.get(i, i)) for i in overall.drivers) or "no current indicator above normal"
    left_out = [f"{heading}: " + ", ".join(escape(names[i]) for i in ids)
                for heading, ids in not_current(statuses).items() if ids]
    reasons = "; ".join(f'<span class="wf-reason">{escape(reason)}</span>' for reason in overall.reasons)
    return (f'<div class="wf-overall" data-overall-level="{overall.level.value}">'
            f'<span class="wf-muted">Overall level as of {as_of.isoformat()}</span> '
            f'{level_badge(overall.level)} <span class="wf-index">{index}</span>'
            f'<span class="wf-muted"> / 100 index &middot; </span>'
            f'<b>{overall.current} of {overall.total} indicators current</b>'
            + (f'<div class="wf-reasons">Why: {reasons}</div>' if reasons else "")
            + f'<div class="wf-muted">Driven by: {drivers}</div>'
            + "".join(f'<div class="wf-muted wf-left-out">Not counted &mdash; {part}</div>' for part in left_out)
            + "</div>")


def _shortened(text: str, width: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def changes_list(changes, new_rows, new_events, indicators: dict, max_reports: int = MAX_NEW_REPORTS) -> str:
    """The "What changed" list between the comparison date and the as-of date.

    ``indicators`` maps ids to ``Indicator``: names, and labels for the values of ordinal scales."""
    items = []
    for change in changes:
        before = "STALE" if change.before.stale else LEVEL_WORDS[change.before.level]
        after = "STALE" if change.after.stale else LEVEL_WORDS[change.after.level]
        items.append(f"<li><b>{escape(change.name)}</b>: {before} &#8594; {after} ({change.direction})</li>")
    for row in new_events.itertuples():
        items.append(f"<li>Event {row.date:%Y-%m-%d}: {escape(row.title)}</li>")
    shown = new_rows.head(max_reports)
    for row in shown.itertuples():
        indicator = indicators.get(row.indicator)
        event_id = getattr(row, "event_id", "")
        if isinstance(event_id, str) and event_id and indicator is not None and indicator.feed is not None:
            # a feed event: what happened and where it is, not "1 (reported)"
            items.append(f"<li>New {escape(row.source)} event {row.reported:%Y-%m-%d}: "
                         f"{escape(indicator.name)}: {escape(event_id)}, dated {row.date:%Y-%m-%d}"
                         f"{': ' + escape(_shortened(row.note)) if row.note else ''}</li>")
            continue
        value = value_for_row(indicator, row.value)
        details = "; ".join(part for part in (row.status, row.source) if part)
        items.append(f"<li>New report {row.reported:%Y-%m-%d}: "
                     f"{escape(indicator.name if indicator else str(row.indicator))}"
                     f"{' ' + escape(value) if value else ''}{f' ({escape(details)})' if details else ''}</li>")
    if len(new_rows) > len(shown):
        more = len(new_rows) - len(shown)
        items.append(f"<li>&hellip; and {more} more new {'report' if more == 1 else 'reports'} "
                     "(listed on the Indicator detail page)</li>")
    if not items:
        return '<p class="wf-muted">Nothing changed.</p>'
    return '<ul class="wf-changes">' + "".join(items) + "</ul>"
