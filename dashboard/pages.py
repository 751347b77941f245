"""The dashboard's pages: each reads its widgets and calls render and figure functions."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

import pandas as pd
import streamlit as st

from indicators.changes import events_between, level_changes, observations_between
from indicators.evaluate import overall_status
from indicators.loader import LoadedWatchlist
from indicators.report import csv_download
from indicators.timeseries import indicator_values_over_time

from . import data, forms
from .figures import (build_index_figure, build_state_timeline_figure, build_timeline_figure, recent_scores)
from .render import changes_list, overall_panel, status_cards

CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"scale": 2}}


def indicator_names(loaded: LoadedWatchlist) -> dict[str, str]:
    return {indicator.id: indicator.name for indicator in loaded.watchlist.indicators}


def chart_config(loaded: LoadedWatchlist, indicator_id: str, as_of: dt.date) -> dict:
    """Plotly config whose camera button saves <watchlist>-<indicator>-<as-of>.png at 2x scale."""
    filename = f"{loaded.folder.name}-{indicator_id}-{as_of.isoformat()}"
    return {**CHART_CONFIG, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": filename}}


def render_briefing_download(loaded: LoadedWatchlist, as_of: dt.date, compare: dt.date) -> None:
    """Make a briefing (PNG, PDF or HTML) of this view, with progress, then offer it for download."""
    from .briefing import build_briefing_html, default_options
    from .export import ExportError, render

    columns = st.columns([1, 1, 3])
    fmt = columns[0].selectbox("Briefing format", ["png", "pdf", "html"], key="briefing_format",
                               format_func=str.upper, label_visibility="collapsed")
    if columns[1].button("Make briefing", key="make_briefing"):
        size = "a4" if fmt == "pdf" else "slide"
        with st.status(f"Making the {fmt.upper()} briefing ...", expanded=False) as progress:
            try:
                html = build_briefing_html(loaded, default_options(loaded, as_of, compare, size=size))
                progress.update(label="Rendering in Chromium ..." if fmt != "html" else "Done")
                payload = html.encode("utf-8") if fmt == "html" else render(html, fmt, size,
                                                                                marking=loaded.watchlist.marking)
            except ExportError as error:
                progress.update(label="Briefing failed", state="error")
                st.error(str(error))
                return
            progress.update(label=f"{fmt.upper()} briefing ready", state="complete")
        name = f"{loaded.folder.name}-briefing-{as_of.isoformat()}.{fmt}"
        st.session_state["briefing"] = (name, payload, fmt)
    ready = st.session_state.get("briefing")
    if ready:
        name, payload, fmt = ready
        mime = {"png": "image/png", "pdf": "application/pdf", "html": "text/html"}[fmt]
        columns[2].download_button(f"Download {name}", payload, file_name=name, mime=mime, key="download_briefing")


def render_overview(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, compare: dt.date) -> None:
    render_briefing_download(loaded, as_of, compare)
    statuses = data.statuses(folder, as_of)
    before = data.statuses(folder, compare)
    overall = overall_status(statuses)
    names = indicator_names(loaded)
    scores, _ = data.history(folder, max(as_of, compare))
    st.html(overall_panel(overall, names, as_of))
    st.html(status_cards(statuses, before, compare, recent_scores(scores, as_of)))
    st.markdown(f"**What changed** between {compare.isoformat()} and {as_of.isoformat()}")
    changes = level_changes(before, statuses) if compare < as_of else level_changes(statuses, before)
    lo, hi = min(compare, as_of), max(compare, as_of)
    st.html(changes_list(changes, observations_between(loaded.observations, lo, hi),
                         events_between(loaded.events, lo, hi), names))


def render_timelines(folder: Path, loaded: LoadedWatchlist, as_of: dt.date) -> None:
    statuses = data.statuses(folder, as_of)
    names = indicator_names(loaded)
    observations = loaded.observations
    first = observations["date"].min().date() if len(observations) else as_of - dt.timedelta(days=365)
    last = max(as_of, observations["date"].max().date() if len(observations) else as_of)
    default_range = (max(first, as_of - dt.timedelta(days=365)), last)
    picked = st.date_input("Date range", value=default_range, min_value=first, max_value=last, key="range",
                           format="YYYY-MM-DD")
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else default_range)
    raised = [s.indicator.id for s in statuses if s.level.score and s.level.score > 0 and not s.stale]
    default = raised[:8] or [s.indicator.id for s in statuses[:8]]
    chosen = st.multiselect("Indicators", list(names), default=default, format_func=names.get, key="chosen")
    scores, index = data.history(folder, max(as_of, end))
    window = slice(pd.Timestamp(start), pd.Timestamp(end))
    st.plotly_chart(build_index_figure(index.loc[window], loaded.events, as_of), width="stretch",
                    config=chart_config(loaded, "index", as_of), key="index_chart")
    st.plotly_chart(build_state_timeline_figure(scores.loc[window], names), width="stretch",
                    config=chart_config(loaded, "levels", as_of), key="state_chart")
    for indicator_id in chosen:
        indicator = loaded.watchlist.indicator(indicator_id)
        rows = observations[observations["indicator"] == indicator_id]
        aggregate = None if indicator.aggregate == "latest" else indicator_values_over_time(
            indicator, observations, start, end)
        st.plotly_chart(build_timeline_figure(indicator, rows, loaded.events, start, end, as_of, aggregate),
                        width="stretch",
                        config=chart_config(loaded, indicator_id, as_of), key=f"timeline_{indicator_id}")


def render_indicator_detail(folder: Path, loaded: LoadedWatchlist, as_of: dt.date) -> str:
    names = indicator_names(loaded)
    ids = list(names)
    if st.session_state.get("indicator") not in ids:
        st.session_state["indicator"] = ids[0]
    indicator_id = st.selectbox("Indicator", ids, format_func=names.get, key="indicator")
    indicator = loaded.watchlist.indicator(indicator_id)
    status = next(s for s in data.statuses(folder, as_of) if s.indicator.id == indicator_id)
    st.subheader(indicator.name, anchor=False)
    st.text(indicator.description or "No description given.")
    facts = {"id": indicator.id, "category": indicator.category, "unit": indicator.unit or "-",
             "direction": indicator.direction, "aggregate": indicator.aggregate
             + (f" over {indicator.window_days} days" if indicator.window_days else ""),
             "stale after": f"{indicator.stale_after_days} days" if indicator.stale_after_days else "never",
             "weight": f"{indicator.weight:g}",
             "thresholds": ", ".join(f"{k} {v:g}" for k, v in indicator.thresholds.present()),
             "level now": status.level.value.upper() + (" (stale)" if status.stale else "")}
    if indicator.levels:
        facts["scale"] = ", ".join(f"{k:g} = {v}" for k, v in sorted(indicator.levels.items()))
    st.dataframe(pd.DataFrame({"": list(facts), "value": list(facts.values())}), hide_index=True, width="stretch")
    rows = loaded.observations[loaded.observations["indicator"] == indicator_id]
    st.markdown(f"**History** ({len(rows)} observations)")
    table = rows.sort_values(["date", "line"], ascending=[False, True])[
        ["date", "value", "status", "source", "reliability", "credibility", "reported", "url", "note", "line"]]
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "date": st.column_config.DateColumn(format="YYYY-MM-DD"),
        "reported": st.column_config.DateColumn(format="YYYY-MM-DD"),
        "url": st.column_config.LinkColumn("link"),
    })
    st.download_button("Download history (CSV)", csv_download(table), key="download_history",
                       file_name=f"{loaded.folder.name}-{indicator_id}-{as_of.isoformat()}.csv", mime="text/csv")
    forms.render_row_actions(folder, loaded, indicator_id, dt.date.today())
    problems = loaded.problems_for(indicator_id)
    st.markdown(f"**Problems concerning this indicator**: {len(problems)}")
    if problems:
        render_problem_table(loaded, problems)
    return indicator_id


def render_events(loaded: LoadedWatchlist) -> None:
    events = loaded.events
    categories = sorted(c for c in events["category"].unique() if c)
    chosen = st.multiselect("Categories", categories, default=categories, key="event_categories")
    shown = events[events["category"].isin(chosen) | (events["category"] == "")]
    st.markdown(f"**{len(shown)} events**")
    table = shown[["date", "end_date", "title", "category", "description", "source", "url"]]
    st.download_button("Download events (CSV)", csv_download(table), key="download_events",
                       file_name=f"{loaded.folder.name}-events.csv", mime="text/csv")
    st.dataframe(table,
                 hide_index=True, width="stretch", column_config={
                     "date": st.column_config.DateColumn(format="YYYY-MM-DD"),
                     "end_date": st.column_config.DateColumn("until", format="YYYY-MM-DD"),
                     "url": st.column_config.LinkColumn("link")})


def render_problem_table(loaded: LoadedWatchlist, problems=None) -> None:
    problems = loaded.problems if problems is None else problems
    frame = pd.DataFrame([p.as_dict() for p in problems], columns=["file", "line", "field", "code", "message"])
    st.dataframe(frame, hide_index=True, width="stretch")


def render_data_quality(loaded: LoadedWatchlist) -> None:
    left_out = loaded.total_observation_rows - len(loaded.observations)
    columns = st.columns(4)
    columns[0].metric("Problems", len(loaded.problems))
    columns[1].metric("Observations used", f"{len(loaded.observations)} of {loaded.total_observation_rows}")
    columns[2].metric("Observations left out", left_out)
    columns[3].metric("Events used", f"{len(loaded.events)} of {loaded.total_event_rows}")
    if not loaded.problems:
        st.success("No problems: every row of every file is used.")
        return
    counts = pd.Series([p.code for p in loaded.problems]).value_counts()
    st.markdown("**By kind:** " + ", ".join(f"{escape(code)} {count}" for code, count in counts.items()))
    render_problem_table(loaded)


def render_update(folder: Path, loaded: LoadedWatchlist) -> None:
    st.caption("Rows are checked by the same rules as the files and appended without touching any other line. "
               "You can also edit the CSV files by hand or use: watchfloor add / watchfloor add-event.")
    left, right = st.columns(2)
    with left:
        forms.render_add_observation(folder, loaded, dt.date.today())
    with right:
        forms.render_add_event(folder, loaded)
