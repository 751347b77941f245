"""The Indicator detail page: the indicator's own chart, its whole definition, and its history with
wrapped notes and source links; editors can confirm, dispute, retract or fix a row."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

import pandas as pd
import streamlit as st

from indicators.engine.changes import known_events, known_observations
from indicators.engine.report import csv_download, definition_facts, value_for_row
from indicators.engine.timeseries import indicator_values_over_time
from indicators.feeds.query import feed_lines_as_of
from indicators.store.loader import LoadedWatchlist
from indicators.views.figures import build_timeline_figure, event_legend_html, numbered_events
from indicators.views.render import level_badge, plain

from . import data, forms

MAX_HISTORY_ROWS = 300  # shown on the page; the download has every row

DETAIL_CSS = """
<style>
.wf-facts {border-collapse:collapse; font-size:14px; margin:4px 0 10px 0;}
.wf-facts th {text-align:left; color:#555555; font-weight:600; padding:2px 14px 2px 0; vertical-align:top;
  white-space:nowrap;}
.wf-facts td {padding:2px 0; vertical-align:top;}
.wf-history {border-collapse:collapse; font-size:13px; width:100%;}
.wf-history th {text-align:left; background:#F4F4F4; padding:4px 6px; border-bottom:1px solid #D0D0D0;
  position:sticky; top:0;}
.wf-history td {padding:4px 6px; border-bottom:1px solid #EEEEEE; vertical-align:top;}
.wf-history td.wf-note {white-space:pre-wrap; overflow-wrap:anywhere; min-width:320px;}
.wf-history td.wf-nowrap {white-space:nowrap;}
.wf-history tr.wf-later td {color:#777777; background:#FAFAFA;}
.wf-history a {overflow-wrap:anywhere;}
</style>
"""


def facts_html(facts: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{escape(label)}</th><td>{escape(text)}</td></tr>" for label, text in facts)
    return f'<table class="wf-facts">{rows}</table>'


def source_link(url: str) -> str:
    """A source link, only for web addresses (validation already refuses anything else)."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return ""
    return f'<a href="{escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{escape(url)}</a>'


def history_html(indicator, rows: pd.DataFrame, later: pd.Series, feed: bool) -> str:
    """The history as a table whose notes wrap and whose sources link out; rows not known on the as-of
    date (shown on request) are greyed and marked."""
    head = ["date", "value", "status", "source", "grade", "reported", "note", "link",
            "event / file" if feed else "line"]
    if feed:
        head.insert(6, "replaced on")
    body = []
    for row, is_later in zip(rows.itertuples(), later):
        grade = f"{row.reliability}{row.credibility}"
        cells = [f'<td class="wf-nowrap">{row.date:%Y-%m-%d}</td>',
                 f"<td>{escape(value_for_row(indicator, row.value) or '(counted)')}</td>",
                 f"<td>{escape(str(row.status))}</td>", f"<td>{escape(str(row.source))}</td>",
                 f"<td>{escape(grade)}</td>", f'<td class="wf-nowrap">{row.reported:%Y-%m-%d}'
                 + (" (after as-of)" if is_later else "") + "</td>"]
        if feed:
            until = row.until.strftime("%Y-%m-%d") if pd.notna(row.until) else ""
            cells.append(f'<td class="wf-nowrap">{until}</td>')
        cells += [f'<td class="wf-note">{escape(str(row.note))}</td>', f"<td>{source_link(row.url)}</td>",
                  f"<td>{escape(str(row.event_id))} {escape(str(row.feed_file))}</td>" if feed else
                  f"<td>{row.line}</td>"]
        body.append(f'<tr class="{"wf-later" if is_later else ""}">' + "".join(cells) + "</tr>")
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    return f'<table class="wf-history"><thead><tr>{header}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_indicator_detail(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, show_later: bool,
                            visitor) -> str:
    names = {indicator.id: indicator.name for indicator in loaded.watchlist.indicators}
    ids = list(names)
    if st.session_state.get("indicator") not in ids:
        st.session_state["indicator"] = ids[0]
    indicator_id = st.selectbox("Indicator", ids, format_func=names.get, key="indicator")
    indicator = loaded.watchlist.indicator(indicator_id)
    status = next(s for s in data.statuses(folder, as_of) if s.indicator.id == indicator_id)
    st.subheader(plain(indicator.name), anchor=False)
    stale = status.stale and status.level.score is not None
    st.html(DETAIL_CSS + f'<div>Level on {as_of.isoformat()}: {level_badge(status.level, stale=stale)}</div>')
    st.text(indicator.description or "No description given.")
    everything = loaded.observations[loaded.observations["indicator"] == indicator_id]
    known = known_observations(everything, as_of, replaced=True)
    rows = everything if show_later else known
    render_chart(loaded, indicator, rows, as_of, show_later)
    st.markdown("**Definition**")
    st.html(DETAIL_CSS + facts_html(definition_facts(loaded.watchlist, indicator)))
    if indicator.feed is not None and not show_later:
        # a replacement after the as-of date was not known then
        rows = rows.assign(until=rows["until"].where(rows["until"] <= pd.Timestamp(as_of)))
    later = pd.Series(~rows.index.isin(known.index), index=rows.index)
    st.markdown(f"**History** ({len(known)} observation{'' if len(known) == 1 else 's'} known on "
                f"{as_of.isoformat()}" + (f"; {int(later.sum())} later ones marked" if show_later else "") + ")")
    if not show_later:
        hidden = len(everything) - len(known)
        if hidden:
            st.caption(f"{hidden} observation{'' if hidden == 1 else 's'} dated or reported after the as-of date "
                       "hidden; turn on **Show what came later** in the sidebar to see them.")
    if indicator.feed is not None:
        summary = loaded.feed_of(indicator_id)
        line = feed_lines_as_of({indicator.feed.name: summary}, loaded.observations, as_of) if summary else []
        st.caption(plain(f"Read-only: the rows of this indicator come from feed {indicator.feed.name}"
                         + (f" ({line[0]})" if line else "") + ". They change when the feed's files do; a revised "
                         "event lists each version, with the day the next one replaced it."))
    ordered = rows.sort_values(["date", "line" if indicator.feed is None else "reported"], ascending=[False, True])
    shown = ordered.head(MAX_HISTORY_ROWS)
    st.html(DETAIL_CSS + history_html(indicator, shown, later.reindex(shown.index), indicator.feed is not None))
    if len(ordered) > len(shown):
        st.caption(f"The newest {len(shown)} of {len(ordered)} rows are shown; the download has them all.")
    columns = ["date", "value", "status", "source", "reliability", "credibility", "reported", "url", "note"]
    columns += ["event_id", "until", "feed_file"] if indicator.feed is not None else ["line"]
    download = ordered.assign(later=later.reindex(ordered.index))[columns + (["later"] if show_later else [])]
    st.download_button("Download history (CSV)", csv_download(download), key="download_history",
                       file_name=f"{loaded.folder.name}-{indicator_id}-{as_of.isoformat()}.csv", mime="text/csv")
    if visitor.can_edit and indicator.feed is None:
        forms.render_row_actions(folder, loaded, rows, dt.date.today())
    problems = loaded.problems_for(indicator_id)
    st.markdown(f"**Problems concerning this indicator**: {len(problems)}")
    if problems:
        from dashboard.pages import render_problem_table

        render_problem_table(loaded, problems)
    return indicator_id


def render_chart(loaded: LoadedWatchlist, indicator, rows: pd.DataFrame, as_of: dt.date, show_later: bool) -> None:
    """The indicator's own chart, as on Timelines: the last year up to the as-of date (or the later days too)."""
    first = loaded.first_observation_date(as_of)
    start = max(min(first, as_of), as_of - dt.timedelta(days=365))
    end = as_of
    if show_later and len(rows):
        end = max(as_of, rows["date"].max().date())
    events = loaded.events if show_later else known_events(loaded.events, as_of)
    daily = indicator_values_over_time(indicator, loaded.observations, start, end)
    from dashboard.pages import chart_with_events

    chart_with_events(build_timeline_figure(indicator, rows, events, start, end, as_of, daily),
                      f"detail_{indicator.id}", loaded, as_of, indicator.id)
    numbered = numbered_events(events, start, end)
    if numbered:
        st.html(event_legend_html(numbered))
