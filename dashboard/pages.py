"""The dashboard's pages: each reads its widgets and calls render and figure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from html import escape
from pathlib import Path

import pandas as pd
import streamlit as st

from indicators.engine.backtest import backtest, period_problem
from indicators.engine.changes import (events_between, known_events, known_observations, level_changes,
                                       observations_between)
from indicators.engine.judging import known_judgments, score_judgments
from indicators.engine.report import csv_download, false_alarm_sentence, robustness_sentence
from indicators.engine.timeseries import SCENARIO_PREFIX, indicator_values_over_time
from indicators.format.models import RAISED_LEVELS, Level
from indicators.store.loader import LoadedWatchlist
from indicators.views.board import judgment_extras, scenario_board, scenario_matrix
from indicators.views.figures import (build_index_figure, build_state_timeline_figure, build_timeline_figure,
                                      event_legend_html, numbered_events, recent_scores)
from indicators.views.judgment_figures import build_judgment_figure, build_reliability_figure
from indicators.views.render import changes_list, plain, status_cards
from indicators.views.situation import SITUATION_CSS, indicator_board, overall_strip, scenario_lines

from . import data, forms
from .detail import DETAIL_CSS, source_link

CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"scale": 2}}
STRIP_DAYS = 90  # the level strips and the index strip of the Overview


def indicators_by_id(loaded: LoadedWatchlist) -> dict:
    return {indicator.id: indicator for indicator in loaded.watchlist.indicators}


def indicator_names(loaded: LoadedWatchlist) -> dict[str, str]:
    return {indicator.id: indicator.name for indicator in loaded.watchlist.indicators}


def chart_config(loaded: LoadedWatchlist, indicator_id: str, as_of: dt.date) -> dict:
    """Plotly config whose camera button saves <watchlist>-<indicator>-<as-of>.png at 2x scale."""
    filename = f"{loaded.folder.name}-{indicator_id}-{as_of.isoformat()}"
    return {**CHART_CONFIG, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": filename}}


def render_briefing_download(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, compare: dt.date) -> None:
    """Make a briefing (PNG, PDF or HTML) of this view, with progress, then offer it for download.

    A briefing made for another view (watchlist, files, dates or format) is dropped, never offered:
    the file offered is always the view on screen, and its name says which."""
    from indicators.views.briefing import build_briefing_html, default_options
    from indicators.views.export import ExportError, render

    columns = st.columns([1, 1, 3])
    fmt = columns[0].selectbox("Briefing format", ["png", "pdf", "html"], key="briefing_format",
                               format_func=str.upper, label_visibility="collapsed")
    view = (str(folder), data.files_signature(folder), as_of, compare, fmt)
    ready = st.session_state.get("briefing")
    if ready and ready[0] != view:
        del st.session_state["briefing"]
    if columns[1].button("Make briefing", key="make_briefing"):
        size = "a4" if fmt == "pdf" else "slide"
        with st.status(f"Making the {fmt.upper()} briefing ...", expanded=False) as progress:
            try:
                html = build_briefing_html(loaded, default_options(loaded, as_of, compare, size=size,
                                                                   page_bands=fmt == "pdf"))
                progress.update(label="Rendering in Chromium ..." if fmt != "html" else "Done")
                files = [html.encode("utf-8")] if fmt == "html" else render(html, fmt, size,
                                                                              marking=loaded.watchlist.marking)
            except ExportError as error:
                progress.update(label="Briefing failed", state="error")
                st.error(plain(str(error)))
                return
            progress.update(label=f"{fmt.upper()} briefing ready", state="complete")
        name = f"{loaded.folder.name}-briefing-{as_of.isoformat()}-since-{compare.isoformat()}.{fmt}"
        st.session_state["briefing"] = (view, name, files, fmt)
    ready = st.session_state.get("briefing")
    if ready:
        _, name, files, fmt = ready
        mime = {"png": "image/png", "pdf": "application/pdf", "html": "text/html"}[fmt]
        stem, suffix = name.rsplit(".", 1)
        for number, payload in enumerate(files, start=1):  # a PNG per slide: slide 2 is NAME-2.png, as from the CLI
            file_name = name if number == 1 else f"{stem}-{number}.{suffix}"
            columns[2].download_button(f"Download {file_name}", payload, file_name=file_name, mime=mime,
                                       key="download_briefing" if number == 1 else f"download_briefing_{number}")


def render_overview(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, compare: dt.date) -> None:
    """The situation board: the overall level with its 90-day index and reasons, the scenarios, and one
    row per indicator; full cards on demand; what changed; the briefing."""
    statuses = data.statuses(folder, as_of)
    before = data.statuses(folder, compare)
    overall = data.overall(folder, as_of)
    scores, index, _ = data.history(folder, as_of)
    days = pd.date_range(as_of - dt.timedelta(days=STRIP_DAYS - 1), as_of, freq="D")
    recent = index.reindex(days).fillna({"level": -1})  # before the first row: nothing current
    st.html(SITUATION_CSS + overall_strip(overall, statuses, as_of, recent["index"].to_numpy(),
                                          recent["level"].to_numpy()))
    if overall.scenarios:
        judgments = judgment_extras(overall.scenarios, loaded.judgments, as_of, index, compact=True)
        st.html(SITUATION_CSS + scenario_lines(overall.scenarios, statuses, judgments, as_of))
    strips = recent_scores(scores, as_of, STRIP_DAYS)
    st.html(SITUATION_CSS + indicator_board(statuses, before, compare, strips, as_of))
    if st.toggle("Full cards", key="full_cards", help="Every indicator as a card: value, window, date and age, "
                 "change since the comparison date, grade, 90-day level strip."):
        st.html(status_cards(statuses, before, compare, strips))
    st.markdown(f"**What changed** between {compare.isoformat()} and {as_of.isoformat()}")
    st.html(changes_list(level_changes(before, statuses), observations_between(loaded.observations, compare, as_of),
                         events_between(loaded.events, compare, as_of), indicators_by_id(loaded)))
    st.markdown("**Briefing** of this view (PNG slides, A4 PDF or interactive HTML)")
    render_briefing_download(folder, loaded, as_of, compare)


def later_note(hidden: int, noun: str) -> None:
    """Say how many rows the as-of date hides, and how to see them."""
    if hidden:
        st.caption(f"{hidden} {noun}{'' if hidden == 1 else 's'} dated or reported after the as-of date "
                   "hidden; turn on **Show what came later** in the sidebar to see them.")


def chart_with_events(figure, key: str, loaded: LoadedWatchlist, as_of: dt.date, name: str | None = None) -> None:
    """A chart whose event markers open their event: a click on a number shows the event below the chart."""
    picked = st.plotly_chart(figure, width="stretch", config=chart_config(loaded, name or key.removesuffix("_chart"),
                                                                          as_of),
                             key=key, on_select="rerun", selection_mode="points")
    points = (picked or {}).get("selection", {}).get("points", []) if picked else []
    lines = [int(str(point.get("customdata", "")).removeprefix("event:")) for point in points
             if str(point.get("customdata", "")).startswith("event:")]
    for line in lines:
        match = loaded.events[loaded.events["line"] == line]
        if match.empty:
            continue
        event = match.iloc[0]
        until = f" to {event['end_date']:%Y-%m-%d}" if pd.notna(event["end_date"]) else ""
        details = " · ".join(part for part in (event["category"], event["source"], event["url"]) if part)
        st.info(plain(f"{event['date']:%Y-%m-%d}{until}: {event['title']}"
                      + (f". {event['description']}" if event["description"] else "")
                      + (f" ({details})" if details else "")), icon="📌")


def render_timelines(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, show_later: bool) -> None:
    statuses = data.statuses(folder, as_of)
    names = indicator_names(loaded)
    known = known_observations(loaded.observations, as_of)
    observations = loaded.observations if show_later else known
    events = loaded.events if show_later else known_events(loaded.events, as_of)
    first = min(loaded.first_observation_date(as_of - dt.timedelta(days=365)), as_of)
    last = as_of
    if show_later:
        latest = [frame["date"].max() for frame in (observations, events) if len(frame)]
        last = max([as_of] + [date.date() for date in latest])
    default_range = (max(first, as_of - dt.timedelta(days=365)), last)
    columns = st.columns([2, 1])
    # the range's key follows the as-of date and the toggle, so that both move the default range
    picked = columns[0].date_input("Date range", value=default_range, min_value=first, max_value=last,
                                   key=f"range_{as_of.isoformat()}_{show_later}", format="YYYY-MM-DD")
    show_events = columns[1].toggle("Events on the charts", value=True, key="show_events")
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else default_range)
    if not show_later:
        later_note(len(loaded.observations) - len(known), "observation")
    raised = [s.indicator.id for s in statuses if s.level.score and s.level.score > 0 and not s.stale]
    default = raised[:8] or [s.indicator.id for s in statuses[:8]]
    chosen = st.multiselect("Indicators", list(names), default=default, format_func=names.get, key="chosen")
    scores, index, held = data.history(folder, end)
    window = slice(pd.Timestamp(start), pd.Timestamp(end))
    marks = [(target.date, target.first_warning) for target in target_results(scores, index, loaded)
             if start <= target.date <= end]
    chart_with_events(build_index_figure(index.loc[window], events, as_of, start, end, show_events,
                                         loaded.watchlist.overall.cutoffs, marks), "index_chart", loaded, as_of)
    if show_events:
        numbered = numbered_events(events, start, end)
        if numbered:
            st.caption("Events on the charts (the same numbers on every chart; click a number to read the event):")
            st.html(event_legend_html(numbered))
    st.plotly_chart(build_state_timeline_figure(scores.loc[window], indicator_and_scenario_names(loaded), as_of, start,
                                                end, held.loc[window], scenario_levels(loaded, index.loc[window])),
                    width="stretch", config=chart_config(loaded, "levels", as_of), key="state_chart")
    for indicator_id in chosen:
        indicator = loaded.watchlist.indicator(indicator_id)
        rows = observations[observations["indicator"] == indicator_id]
        daily = indicator_values_over_time(indicator, loaded.observations, start, end)
        chart_with_events(build_timeline_figure(indicator, rows, events, start, end, as_of, daily, show_events),
                          f"timeline_{indicator_id}", loaded, as_of, indicator_id)


def scenario_levels(loaded: LoadedWatchlist, index: pd.DataFrame) -> pd.DataFrame:
    """The daily level scores of each scenario (columns ``scenario:<id>``), from the app's history."""
    return index[[SCENARIO_PREFIX + scenario.id for scenario in loaded.watchlist.scenarios]]


def indicator_and_scenario_names(loaded: LoadedWatchlist) -> dict[str, str]:
    """Names by column of the history: indicator ids, and ``scenario:<id>`` for scenarios."""
    return {**indicator_names(loaded),
            **{SCENARIO_PREFIX + scenario.id: scenario.name for scenario in loaded.watchlist.scenarios}}


def render_scenarios(folder: Path, loaded: LoadedWatchlist, as_of: dt.date) -> None:
    """Which outcome is unfolding: the board, the indicators x scenarios matrix, and each scenario's
    level over time."""
    statuses = data.statuses(folder, as_of)
    overall = data.overall(folder, as_of)
    if not overall.scenarios:
        st.info("This watchlist declares no scenarios. A scenario lists the signs that would be seen if an outcome "
                "were unfolding (scenarios: in watchlist.yaml; see docs/scenarios-and-judgments.md).")
        return
    st.caption("A scenario's level rises with the signs seen: a sign is seen when its indicator is current and at "
               "the sign's level or above. The overall level is at least the highest scenario's.")
    _, history_index, _ = data.history(folder, as_of)
    st.html(scenario_board(overall.scenarios, statuses,
                           judgment_extras(overall.scenarios, loaded.judgments, as_of, history_index)))
    st.markdown("**Indicators and the scenarios they are signs of**")
    st.html(scenario_matrix(overall.scenarios, statuses))
    scores, index, held = data.history(folder, as_of)
    first = min(loaded.first_observation_date(as_of), as_of)
    start = max(first, as_of - dt.timedelta(days=365))
    window = slice(pd.Timestamp(start), pd.Timestamp(as_of))
    names = indicator_names(loaded)
    signs = [item.sign.indicator for status in overall.scenarios for item in status.signs]
    shown = [indicator_id for indicator_id in names if indicator_id in signs]
    st.plotly_chart(build_state_timeline_figure(scores.loc[window, shown], indicator_and_scenario_names(loaded), as_of,
                                                start, as_of, held.loc[window, shown],
                                                scenario_levels(loaded, index.loc[window])),
                    width="stretch", config=chart_config(loaded, "scenarios", as_of), key="scenario_chart")
    judgments = known_judgments(loaded.judgments, as_of)
    st.markdown("**The analysts' judgments over time** (ICD 203 terms; each judgment stands until a newer one is "
                "known)")
    for scenario in loaded.watchlist.scenarios:
        if not (judgments["scenario"] == scenario.id).any():
            st.caption(plain(f"{scenario.name}: no judgment recorded by {as_of.isoformat()}."))
            continue
        first_judgment = judgments.loc[judgments["scenario"] == scenario.id, "date"].min().date()
        st.plotly_chart(build_judgment_figure(scenario, judgments, index[SCENARIO_PREFIX + scenario.id],
                                              min(start, first_judgment), as_of, as_of), width="stretch",
                        config=chart_config(loaded, f"judgments-{scenario.id}", as_of), key=f"judgment_{scenario.id}")


def parse_targets(text: str) -> tuple[list[dt.date], list[str]]:
    """Dates from "2022-02-24, 2022-10-10"; the parts that are not dates, to say so."""
    dates, bad = [], []
    for part in (piece.strip() for piece in text.replace(";", ",").split(",")):
        if not part:
            continue
        try:
            dates.append(dt.date.fromisoformat(part))
        except ValueError:
            bad.append(part)
    return sorted(set(dates)), bad


def backtest_history(scores: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """The daily overall level beside every indicator's level: what ``backtest`` reads (as
    ``indicators.engine.backtest.level_history`` builds it, here from the app's cached history)."""
    return pd.concat([index[["level"] + [c for c in index.columns if c.startswith(SCENARIO_PREFIX)]], scores], axis=1)


def target_results(scores: pd.DataFrame, index: pd.DataFrame, loaded: LoadedWatchlist):
    """The backtest of the targets set on the Backtest page (none: an empty list)."""
    dates, _ = parse_targets(st.session_state.get("targets", ""))
    if not dates:
        return []
    level = Level(st.session_state.get("target_level", "high"))
    scenario = chosen_scenario(loaded)
    history = backtest_history(scores, index)
    inside = [date for date in dates if pd.Timestamp(date - dt.timedelta(days=1)) in history.index]
    if not inside:
        return []
    return backtest(history, list(scores.columns), inside, level, history.index[0].date(),
                    history.index[-1].date(), scenario=scenario).targets


def chosen_scenario(loaded: LoadedWatchlist) -> str | None:
    """The scenario the Backtest page judges by (None: the overall level); an id from an old link that
    the watchlist no longer has is dropped."""
    chosen = st.session_state.get("target_scenario") or None
    return chosen if chosen in {scenario.id for scenario in loaded.watchlist.scenarios} else None


def target_candidates(loaded: LoadedWatchlist) -> dict[str, str]:
    """{date: what happened} to pick backtest targets from: the scenarios' happened dates and the events."""
    candidates = {}
    for scenario in loaded.watchlist.scenarios:
        if scenario.happened:
            candidates.setdefault(scenario.happened.isoformat(), f"{scenario.name} (happened)")
    for date, title in zip(loaded.events["date"], loaded.events["title"]):
        candidates.setdefault(f"{date:%Y-%m-%d}", str(title))
    return dict(sorted(candidates.items()))


def _targets_follow_scenario(loaded: LoadedWatchlist) -> None:
    """A scenario was picked: test it against the day it happened, unless targets were chosen already."""
    chosen = st.session_state.get("bt_scenario") or None
    st.session_state["target_scenario"] = chosen
    happened = loaded.watchlist.scenario(chosen).happened if chosen else None
    if happened and not st.session_state.get("bt_picked") and not parse_targets(st.session_state.get("bt_targets",
                                                                                                      ""))[0]:
        st.session_state["bt_picked"] = [happened.isoformat()]


def render_backtest(folder: Path, loaded: LoadedWatchlist, as_of: dt.date) -> None:
    """Would the watchlist (or a scenario) have warned before known events, how early, how often in
    vain, and which rows does each warning rest on?"""
    st.caption("Each day is judged as it was known that day, with the watchlist's rules (holds, change, "
               "cut-offs, floors and scenarios): no hindsight. The same as: watchfloor backtest DIR --target D.")
    scenarios = {scenario.id: scenario for scenario in loaded.watchlist.scenarios}
    candidates = target_candidates(loaded)
    # widget state goes when the page is not drawn: keep the choice in plain keys (and the URL)
    if "bt_picked" not in st.session_state:  # targets from a link: known dates are picked, others typed
        linked, bad = parse_targets(st.session_state.get("targets", ""))
        st.session_state["bt_picked"] = [d.isoformat() for d in linked if d.isoformat() in candidates]
        st.session_state["bt_targets"] = ", ".join([d.isoformat() for d in linked if d.isoformat() not in candidates]
                                                   + bad)
    st.session_state.setdefault("bt_scenario", chosen_scenario(loaded) or "")
    st.session_state.setdefault("bt_level", st.session_state.get("target_level", "high"))
    if scenarios:
        st.selectbox("Judge by", [""] + list(scenarios), key="bt_scenario",
                     format_func=lambda key: f"Scenario: {scenarios[key].name}" if key else "The overall level",
                     on_change=_targets_follow_scenario, args=(loaded,))
    scenario = st.session_state.get("bt_scenario") or None
    st.session_state["target_scenario"] = scenario
    picked = st.multiselect("Known events: the days a warning should have come before", list(candidates),
                            key="bt_picked", format_func=lambda day: f"{day} {candidates[day]}",
                            placeholder="pick events or scenarios that happened")
    columns = st.columns([3, 1, 1, 1])
    text = columns[0].text_input("Other dates (YYYY-MM-DD, comma-separated)", key="bt_targets",
                                 placeholder="e.g. " + ", ".join(list(candidates)[-2:] or ["2024-01-31"]))
    level = columns[1].selectbox("Warning level", list(RAISED_LEVELS), key="bt_level")
    lead_window = columns[2].number_input("Lead window (days)", 0, 3650, 90, key="bt_lead")
    after_window = columns[3].number_input("After window (days)", 0, 3650, 30, key="bt_after")
    typed, bad = parse_targets(text)
    dates = sorted(set(typed) | {dt.date.fromisoformat(day) for day in picked})
    st.session_state["targets"] = ", ".join(d.isoformat() for d in dates)
    st.session_state["target_level"] = level
    if bad:
        st.error(plain(f"Not a date: {', '.join(bad)}. Write dates as YYYY-MM-DD, separated by commas."))
    if not dates:
        example = next((f"{day} ({what})" for day, what in reversed(candidates.items()) if "(happened)" in what),
                       None) or (f"{list(candidates)[0]} ({candidates[list(candidates)[0]]})" if candidates else None)
        st.info(plain("Pick the events a warning should have come before" + (f", e.g. {example}," if example else "")
                      + " to see how early the level reached the warning level before each, and how often it "
                        "warned in vain."))
        return
    problem = period_problem(min(dates), max(dates), "The period of these dates", "give dates closer together")
    if problem is None:  # bounded before any day is computed
        first = loaded.first_observation_date(min(dates))
        start = min(first, min(dates) - dt.timedelta(days=1))
        end = max(dates) + dt.timedelta(days=int(after_window))
        problem = period_problem(start, end, "The backtest (from the first observation)",
                                 "give dates closer to the data")
    if problem:
        st.error(plain(problem))
        return
    scores, index, _ = data.history(folder, end)
    history = backtest_history(scores, index).loc[pd.Timestamp(start):pd.Timestamp(end)]
    ids = list(scores.columns)
    result = backtest(history, ids, dates, Level(level), first, end, int(lead_window), int(after_window), scenario)
    names = indicator_names(loaded)
    table = pd.DataFrame([{"target": target.date, "what": candidates.get(target.date.isoformat(), ""),
                           "warned": target.warned, "first warning": target.first_warning,
                           "lead (days)": target.lead_days} for target in result.targets])
    metrics = st.columns(4)
    metrics[0].metric("Targets warned", f"{sum(t.warned for t in result.targets)} of {len(result.targets)}")
    metrics[1].metric("False-alarm days", result.false_alarm_days if result.quiet_days else "not tested",
                      help=f"days at {level} or above outside every [target - {lead_window} d, target + "
                           f"{after_window} d], from {first.isoformat()} to {end.isoformat()}")
    metrics[2].metric("Quiet days", result.quiet_days,
                      help="days of the period outside every target's window: where a false alarm could show")
    metrics[3].metric("False-alarm rate", "-" if result.false_alarm_rate is None else
                      f"{100 * result.false_alarm_rate:.1f}%")
    if not result.quiet_days:
        st.warning(plain(false_alarm_sentence(result)))
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "target": st.column_config.DateColumn(format="YYYY-MM-DD"),
        "first warning": st.column_config.DateColumn(format="YYYY-MM-DD")})
    for target in result.targets:  # as text, never cut off in a cell
        early = ", ".join(f"{names[i]} (from {d.isoformat()})"
                          for d, i in sorted((d, i) for i, d in target.indicators.items() if d))
        st.caption(plain(f"{target.date.isoformat()}: indicators at {level} or above on the eve, earliest first: "
                         f"{early or 'none'}"))
    if st.toggle("Which rows does each warning rest on?", key="bt_robustness",
                 help="Leaves out, one at a time, every row of observations.csv that became known in the lead "
                      "window, and recomputes the lead (watchfloor backtest --robustness)."):
        render_robustness(folder, loaded, result, dates, start, int(lead_window), scenario)
    marks = [(target.date, target.first_warning) for target in result.targets]
    render_scores(loaded, as_of)
    # each day as known that day: a replay, so no single as-of line
    figure = build_index_figure(index.loc[pd.Timestamp(first):pd.Timestamp(end)], loaded.events.iloc[0:0], end,
                                first, end, False, loaded.watchlist.overall.cutoffs, marks, mark_as_of=False)
    st.plotly_chart(figure, width="stretch", config=chart_config(loaded, "backtest", as_of), key="backtest_chart")


def render_scores(loaded: LoadedWatchlist, as_of: dt.date) -> None:
    """The estimative judgments scored against what happened (watchfloor score), with the reliability diagram."""
    if loaded.judgments.empty or not loaded.watchlist.scenarios:
        return
    st.markdown("**Estimative judgments scored against what happened** (the same as: watchfloor score DIR)")
    horizon = st.number_input("Horizon (days): a judgment made on day j says the scenario happens within it", 1,
                              3660, 90, key="score_horizon")
    scores = score_judgments(loaded.judgments, loaded.watchlist, as_of, int(horizon))
    names = {scenario.id: scenario.name for scenario in loaded.watchlist.scenarios}
    def shown(value, digits):  # a score that cannot be computed (nothing resolved) is a dash, never "None"
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [{"scenario": names.get(scenario_id, "All scenarios"), "judgments": line.judgments,
             "resolved": line.resolved, "open": line.open, "Brier (0 is perfect)": shown(line.brier, 3),
             "reference (base rate)": shown(line.reference_brier, 3),
             "skill (above 0: better than the base rate)": shown(line.skill, 2)}
            for scenario_id, line in list(scores.scenarios.items()) + [("", scores.all)]]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.plotly_chart(build_reliability_figure(scores), width="stretch", key="reliability_chart",
                    config=chart_config(loaded, "reliability", as_of))


def render_robustness(folder: Path, loaded: LoadedWatchlist, result, dates: list[dt.date], start: dt.date,
                      lead_window: int, scenario: str | None) -> None:
    """Per target: how much lead is left with any one row left out, and the rows it rests on, each
    linked to its indicator's history."""
    from indicators.engine.robustness import TooManyRows

    try:
        weights = data.robustness(folder, tuple(dates), result.level, start, lead_window, scenario)
    except TooManyRows as error:
        st.error(plain(str(error)))
        return
    names = indicator_names(loaded)
    rows = []
    for target in result.targets:
        found = weights[target.date]
        st.caption(plain(f"{target.date.isoformat()}: {robustness_sentence(replace(target, robustness=found), names)}"))
        for row in found.weakest:
            rows.append({"target": target.date, "row": f"observations.csv:{row.line}",
                         "indicator": names.get(row.indicator, row.indicator), "dated": row.date,
                         "lead without it (days)": row.lead_days_without,
                         "open": f"?page=indicator&indicator={row.indicator}&as_of={target.date.isoformat()}"})
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
            "target": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "dated": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "open": st.column_config.LinkColumn("history", display_text="indicator detail")})


def render_opened_event(loaded: LoadedWatchlist) -> None:
    """The event a click on the map opened (by its line in events.csv), shown as text above the list."""
    opened = loaded.events[loaded.events["line"] == st.session_state.get("event_line", -1)]
    if not len(opened):
        return
    row = opened.iloc[0]
    with st.container(border=True):
        until = f" to {row['end_date']:%Y-%m-%d}" if pd.notna(row["end_date"]) else ""
        st.markdown(f"**Event opened from the map** (events.csv line {int(row['line'])})")
        st.text("\n".join(part for part in (
            f"{row['date']:%Y-%m-%d}{until}  {row['title']}", row["category"], row["description"],
            f"Source: {row['source']}" if row["source"] else "", row["url"],
            f"Place: {row['place']} ({row['located_by']})" if row["place"] else "") if part))
        st.button("Close", key="close_opened_event", on_click=lambda: st.session_state.pop("event_line", None))


def render_events(loaded: LoadedWatchlist, as_of: dt.date, show_later: bool) -> None:
    render_opened_event(loaded)
    known = known_events(loaded.events, as_of)
    events = loaded.events if show_later else known
    if not show_later:
        later_note(len(loaded.events) - len(known), "event")
    # the choice lists every category of the file, so that later events are not filtered out unseen
    categories = sorted(c for c in loaded.events["category"].fillna("").unique() if c)
    chosen = st.multiselect("Categories", categories, default=categories, key="event_categories")
    category = events["category"].fillna("")
    shown = events[category.isin(chosen) | (category == "")]
    st.markdown(f"**{len(shown)} {'event' if len(shown) == 1 else 'events'}**"
                + ("" if show_later else f" up to {as_of.isoformat()}") + ", newest first")
    table = shown[["date", "end_date", "title", "category", "description", "source", "url"]].iloc[::-1]
    if show_later:
        table = table.assign(later=table["date"] > pd.Timestamp(as_of))
    st.html(DETAIL_CSS + events_html(table, as_of))
    download = table.assign(end_date=table["end_date"].dt.strftime("%Y-%m-%d").fillna(""))
    st.download_button("Download events (CSV)", csv_download(download), key="download_events",
                       file_name=f"{loaded.folder.name}-events.csv", mime="text/csv")


def events_html(events: pd.DataFrame, as_of: dt.date) -> str:
    """The events as a table with full dates ("2022-02-10 to 2022-02-20"), wrapped descriptions and
    source links; events after the as-of date (shown on request) greyed and marked."""
    rows = []
    for row in events.itertuples():
        until = f" to {row.end_date:%Y-%m-%d}" if pd.notna(row.end_date) else ""
        later = getattr(row, "later", False)
        rows.append(f'<tr class="{"wf-later" if later else ""}"><td class="wf-nowrap">{row.date:%Y-%m-%d}{until}'
                    + (" (after as-of)" if later else "") + f"</td><td><b>{escape(str(row.title))}</b></td>"
                    f"<td>{escape(str(row.category))}</td><td class=\"wf-note\">{escape(str(row.description))}</td>"
                    f"<td>{escape(str(row.source))}</td><td>{source_link(row.url)}</td></tr>")
    head = "".join(f"<th>{name}</th>" for name in ("date", "title", "category", "description", "source", "link"))
    return f'<table class="wf-history"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_problem_table(loaded: LoadedWatchlist, problems=None) -> None:
    problems = loaded.problems if problems is None else problems
    frame = pd.DataFrame([p.as_dict() for p in problems], columns=["file", "line", "field", "code", "message"])
    st.dataframe(frame, hide_index=True, width="stretch")


def render_data_quality(loaded: LoadedWatchlist) -> None:
    left_out = loaded.total_observation_rows - loaded.csv_observations_used
    columns = st.columns(4)
    columns[0].metric("Problems", len(loaded.problems))
    columns[1].metric("Observations used", f"{loaded.csv_observations_used} of {loaded.total_observation_rows}")
    columns[2].metric("Observations left out", left_out)
    columns[3].metric("Events used", f"{len(loaded.events)} of {loaded.total_event_rows}")
    for summary in loaded.feeds.values():
        st.caption(plain(summary.describe() + (f"; {summary.left_out} matching rows left out (see below)"
                                               if summary.left_out else "")))
    if not loaded.problems:
        st.success("No problems: every row of every file is used.")
        return
    counts = pd.Series([p.code for p in loaded.problems]).value_counts()
    st.markdown("**By kind:** " + ", ".join(f"{escape(code)} {count}" for code, count in counts.items()))
    render_problem_table(loaded)


def render_update(folder: Path, loaded: LoadedWatchlist, visitor) -> None:
    if not visitor.can_edit:
        st.info(plain(f"{visitor.email} may view this watchlist; adding and changing rows needs the editor role "
                      "(access.editors in watchlist.yaml)."))
        return
    st.caption("Rows are checked by the same rules as the files and appended without touching any other line. "
               "You can also edit the CSV files by hand or use: watchfloor add / watchfloor add-event.")
    left, right = st.columns(2)
    with left:
        forms.render_add_observation(folder, loaded, dt.date.today())
    with right:
        forms.render_add_event(folder, loaded)
    if loaded.watchlist.scenarios:
        forms.render_add_judgment(folder, loaded, dt.date.today())


def render_activity(folder: Path) -> None:
    """Who added, confirmed, disputed, retracted or fixed which row, and when; the previous versions of
    the files; and, in a git repository, the commits that touched them."""
    from indicators.store.activity import entries, git_commits, previous_versions

    st.caption("Rows written from the app or the command line carry entered_by and entered_at (UTC); files "
               "without those columns gain them with: watchfloor upgrade DIR.")
    done = entries(folder)
    st.markdown(f"**Rows entered or changed** ({len(done)})")
    if done.empty:
        st.info("No row carries entered_by and entered_at yet.")
    else:
        st.dataframe(done, hide_index=True, width="stretch")
    versions = previous_versions(folder)
    st.markdown(f"**Previous versions kept in .history/** ({len(versions)})")
    if not versions.empty:
        st.dataframe(versions, hide_index=True, width="stretch")
    commits = git_commits(folder)
    if not commits.empty:
        st.markdown(f"**Commits that touched this folder** ({len(commits)})")
        st.dataframe(commits, hide_index=True, width="stretch")
