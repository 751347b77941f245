"""Scenarios: signs seen, unseen and unknown; scenario levels that only rise with signs seen; the
overall level lifted by the highest scenario; history, honest backtests and what a warning rests on."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from helpers import FIXED_TODAY, indicator, write_watchlist
from indicators.cli import app
from indicators.engine.backtest import backtest, level_history
from indicators.engine.robustness import MAX_ROBUSTNESS_ROWS, leave_one_out
from indicators.engine.rules import evaluate_watchlist
from indicators.engine.scenarios import SEEN, UNKNOWN, UNSEEN, evaluate_scenario, level_score_for_counts
from indicators.format.models import Level, Scenario, ScenarioLevels, Sign, SignsNeeded
from indicators.store.loader import load_watchlist

D = dt.date
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


INDICATORS = [indicator("troops", name="Troops present"), indicator("grouping", name="Grouping formed"),
              indicator("exercise", name="Exercise under way", stale_after_days=10),
              indicator("strikes", name="Strikes from territory")]
OFFENSIVE = {"id": "offensive", "name": "Offensive from the north", "happened": "2022-02-24",
             "signs": [{"indicator": "troops", "at": "high", "strength": "strong"},
                       {"indicator": "grouping", "strength": "strong"},
                       {"indicator": "exercise"}, {"indicator": "strikes", "at": "critical", "strength": "weak"}]}


def watchlist_with(tmp_path, observations: str, scenarios=(OFFENSIVE,), **header):
    return write_watchlist(tmp_path / "w", INDICATORS, observations, scenarios=list(scenarios), **header)


def evaluate(folder, day):
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert loaded.problems == [], [p.format() for p in loaded.problems]
    return evaluate_watchlist(loaded.watchlist, loaded.observations, day)


# Troops at 25 (high) from 1 Feb, the grouping at 12 (elevated) from 3 Feb, an exercise reported on
# 1 Jan (stale after 10 days), no strike row at all.
ROWS = """\
2022-01-01,exercise,15,,,,,,,
2022-02-01,troops,25,,,,,,,
2022-02-03,grouping,12,,,,,,,
"""


def test_signs_are_seen_unseen_or_unknown_and_the_level_follows_the_default_minimums(tmp_path):
    folder = watchlist_with(tmp_path, ROWS)
    _, overall = evaluate(folder, D(2022, 2, 5))
    (scenario,) = overall.scenarios
    assert [(item.sign.indicator, item.state) for item in scenario.signs] == [
        ("troops", SEEN), ("grouping", SEEN), ("exercise", UNKNOWN), ("strikes", UNKNOWN)]
    # 2 seen, 2 strong: high needs 2 seen and 1 strong; critical needs 3 seen
    assert (scenario.level, scenario.seen_count, scenario.strong_seen) == (Level.HIGH, 2, 2)
    _, before = evaluate(folder, D(2022, 2, 2))
    assert before.scenarios[0].level is Level.ELEVATED  # troops alone: 1 seen
    _, earliest = evaluate(folder, D(2022, 1, 20))
    assert earliest.scenarios[0].level is Level.NO_DATA  # the exercise is stale, nothing else known


def test_a_sign_below_its_level_is_unseen_and_keeps_the_scenario_normal(tmp_path):
    folder = watchlist_with(tmp_path, "2022-02-01,troops,15,,,,,,,\n")  # elevated, but the sign is at high
    _, overall = evaluate(folder, D(2022, 2, 2))
    assert (overall.scenarios[0].ids(UNSEEN), overall.scenarios[0].level) == (["troops"], Level.NORMAL)


def test_the_overall_level_is_at_least_the_highest_scenario_with_a_reason_naming_it(tmp_path):
    folder = watchlist_with(tmp_path, ROWS + "2022-02-04,strikes,0,,,,,,,\n")
    statuses, overall = evaluate(folder, D(2022, 2, 5))
    # index: troops high (2) + grouping elevated (1) + strikes normal (0) over 3 current = 33.3 -> elevated
    assert (overall.index, overall.index_level, overall.level) == (33.3, Level.ELEVATED, Level.HIGH)
    assert overall.reasons == ("index 33.3 -> elevated",
                               "Offensive from the north is high: 2 of 4 signs seen, 2 strong -> at least high")


def test_more_evidence_never_lowers_the_warning_a_quieter_indicator_dilutes_the_index_only(tmp_path):
    """The fault of a mean: a quiet report dilutes the index. A scenario's level does not move."""
    folder = watchlist_with(tmp_path, ROWS)
    _, before = evaluate(folder, D(2022, 2, 5))
    (folder / "observations.csv").open("a").write("2022-02-04,strikes,0,,,,,,,\n")
    _, after = evaluate(folder, D(2022, 2, 5))
    assert after.index < before.index
    assert after.level is before.level is Level.HIGH


def test_levels_replace_the_defaults(tmp_path):
    custom = {**OFFENSIVE, "levels": {"critical": {"seen": 2}}}
    folder = watchlist_with(tmp_path, ROWS, scenarios=[custom])
    _, overall = evaluate(folder, D(2022, 2, 5))
    assert overall.scenarios[0].level is Level.CRITICAL
    _, one_sign = evaluate(folder, D(2022, 2, 2))
    assert one_sign.scenarios[0].level is Level.NORMAL  # no elevated level given: 1 seen is not enough


sign_states = st.lists(st.sampled_from([SEEN, UNSEEN, UNKNOWN]), min_size=1, max_size=6)
minimums = st.tuples(st.integers(0, 4), st.integers(0, 4)).map(lambda pair: (max(pair), min(pair)))


@given(sign_states, st.lists(st.booleans(), min_size=6, max_size=6), minimums, minimums, st.integers(0, 5))
def test_adding_a_seen_sign_never_lowers_a_scenario(states, strong, first, second, turned):
    """Turning any sign from unseen or unknown into seen never lowers the scenario's level."""
    low, high = sorted([first, second])
    levels = ScenarioLevels(elevated=SignsNeeded(seen=max(low[0], 1), strong=min(low[1], max(low[0], 1))),
                            critical=SignsNeeded(seen=max(high[0], low[0], 1),
                                                 strong=min(max(high[1], low[1]), max(high[0], low[0], 1))))
    signs = [Sign(indicator=f"i{n}", strength="strong" if strong[n] else "moderate") for n in range(len(states))]
    scenario = Scenario(id="s", name="S", signs=signs, levels=levels)
    score = {SEEN: 1, UNSEEN: 0, UNKNOWN: -1}
    before = evaluate_scenario(scenario, {f"i{n}": score[state] for n, state in enumerate(states)})
    changed = list(states)
    changed[turned % len(states)] = SEEN
    after = evaluate_scenario(scenario, {f"i{n}": score[state] for n, state in enumerate(changed)})
    order = {Level.NO_DATA: -1, Level.NORMAL: 0, Level.ELEVATED: 1, Level.HIGH: 2, Level.CRITICAL: 3}
    assert order[after.level] >= order[before.level]


def test_the_vectorized_level_rule_matches_the_definition():
    scenario = Scenario(id="s", name="S", signs=[Sign(indicator="a")] * 1 + [Sign(indicator="b")])
    seen, strong, known = np.array([0, 1, 2, 2, 3]), np.array([0, 0, 0, 1, 2]), np.array([0, 1, 2, 2, 3])
    assert level_score_for_counts(scenario, seen, strong, known).tolist() == [-1, 1, 1, 2, 3]


def test_status_json_and_table_show_each_scenario(tmp_path):
    folder = watchlist_with(tmp_path, ROWS, as_of="2022-02-05")
    result = run("status", folder, "--json")
    assert result.exit_code == 0, result.output
    (scenario,) = json.loads(result.stdout)["scenarios"]
    assert scenario == {"id": "offensive", "name": "Offensive from the north", "level": "high",
                        "seen": ["troops", "grouping"], "unseen": [], "unknown": ["exercise", "strikes"],
                        "strong_seen": 2,
                        "reasons": ["Offensive from the north is high: 2 of 4 signs seen, 2 strong",
                                    "unknown (no data or stale): Exercise under way, Strikes from territory"]}
    text = run("status", folder).stdout
    assert ("Scenario Offensive from the north: HIGH (2 of 4 signs seen, 2 strong; unknown: Exercise under way, "
            "Strikes from territory)") in text


def test_history_gives_each_scenarios_level_per_day_in_json_and_csv(tmp_path):
    folder = watchlist_with(tmp_path, ROWS)
    records = json.loads(run("history", folder, "--from", "2022-02-01", "--to", "2022-02-03").stdout)
    assert [(r["date"], r["scenarios"]) for r in records] == [
        ("2022-02-01", {"offensive": "elevated"}), ("2022-02-02", {"offensive": "elevated"}),
        ("2022-02-03", {"offensive": "high"})]
    lines = run("history", folder, "--from", "2022-02-03", "--to", "2022-02-03", "--csv").stdout.splitlines()
    assert lines == ["date,level,index,troops,grouping,exercise,strikes,scenario:offensive",
                     "2022-02-03,high,50.0,high,elevated,stale,no_data,high"]


def test_backtest_by_scenario_takes_its_happened_date(tmp_path):
    folder = watchlist_with(tmp_path, ROWS)
    result = run("backtest", folder, "--scenario", "offensive", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["scenario"] == "offensive"
    assert [(t["date"], t["first_warning"], t["lead_days"]) for t in document["targets"]] == [
        ("2022-02-24", "2022-02-03", 21)]


@pytest.mark.parametrize("args, message", [
    (["--scenario", "nope"], 'Error: --scenario "nope" is not a scenario of {folder}; ids: offensive, quiet'),
    (["--scenario", "quiet"], "Error: scenario quiet has no happened date; give the date to test with --target D"),
    ([], "Error: give the date of a known event with --target D (or --scenario ID of a scenario that happened)"),
])
def test_backtest_by_scenario_usage_errors(tmp_path, args, message):
    quiet = {"id": "quiet", "name": "Quiet", "signs": [{"indicator": "strikes"}]}
    folder = watchlist_with(tmp_path, ROWS, scenarios=[OFFENSIVE, quiet])
    result = run("backtest", folder, *args)
    assert (result.exit_code, result.stderr.strip()) == (2, message.format(folder=folder))


def test_a_backtest_with_no_quiet_day_says_false_alarms_were_not_tested(tmp_path):
    folder = watchlist_with(tmp_path, ROWS)
    result = run("backtest", folder, "--target", "2022-02-24", "--json")
    document = json.loads(result.stdout)
    assert (document["quiet_days"], document["false_alarm_days"], document["false_alarm_rate"]) == (0, 0, None)
    text = run("backtest", folder, "--target", "2022-02-24").stdout
    assert text.splitlines()[-1] == (
        "False alarms: not tested: no day from 2022-01-01 to 2022-03-26 lies outside the targets' windows (90 days "
        "before to 30 days after each target); widen the period with --from and --to, or narrow --lead-window and "
        "--after-window")


def test_false_alarms_are_counted_in_the_quiet_days_with_their_rate(tmp_path):
    folder = watchlist_with(tmp_path, ROWS)
    result = run("backtest", folder, "--target", "2022-02-24", "--lead-window", "10", "--json")
    document = json.loads(result.stdout)
    # quiet: 1 Jan - 13 Feb (44 days); from 1 Feb troops is high and the only current indicator
    # (the exercise went stale on 12 Jan): index 66.7, high for 13 days before the window
    assert (document["quiet_days"], document["false_alarm_days"]) == (44, 13)
    assert document["false_alarm_rate"] == round(13 / 44, 4)
    assert run("backtest", folder, "--target", "2022-02-24", "--lead-window", "10").stdout.splitlines()[-1] == (
        "False alarms: 13 days at high or above in 44 days outside the targets' windows (10 days before to 30 days "
        "after each target): rate 29.5%")


def resting_on_one_row(tmp_path):
    """A watchlist whose warning rests on one row: the troop count of 10 Feb (line 4) makes the
    scenario high; without it, only the grouping (seen, strong, reported twice) is left: elevated."""
    rows = ("2022-02-01,grouping,12,,,,,,,\n"
            "2022-02-05,grouping,12,,,,,,,\n"
            "2022-02-10,troops,25,,,,,,,\n"
            "2022-02-15,strikes,0,,,,,,,\n")
    return watchlist_with(tmp_path, rows)


def test_robustness_names_the_row_a_warning_rests_on(tmp_path):
    folder = resting_on_one_row(tmp_path)
    result = run("backtest", folder, "--scenario", "offensive", "--robustness", "--json")
    assert result.exit_code == 0, result.output
    (target,) = json.loads(result.stdout)["targets"]
    assert target["lead_days"] == 14
    assert target["robustness"] == {"rows": 4, "min_lead_days": 0, "weakest": [
        {"line": 4, "indicator": "troops", "date": "2022-02-10", "lead_days_without": 0}]}
    text = run("backtest", folder, "--scenario", "offensive", "--robustness").stdout
    assert ("2022-02-24: the warning rests on: observations.csv:4 (Troops present, 2022-02-10): no warning without "
            "it (each of the 4 rows of the lead window left out in turn; least lead left: 0 days)") in text


def test_robustness_agrees_with_deleting_the_row_from_the_file(tmp_path):
    """Leaving a row out in the fast route gives the lead a backtest gives with the row deleted."""
    folder = watchlist_with(tmp_path, ROWS + "2022-02-10,troops,5,,,,,,,\n2022-02-12,troops,26,,,,,,,\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    target = D(2022, 2, 24)
    weights = leave_one_out(loaded.watchlist, loaded.observations, [target], Level.HIGH, D(2022, 1, 1), 90)[target]

    def lead_of(observations: str) -> int:
        cut = write_watchlist(tmp_path / f"cut{len(list(tmp_path.iterdir()))}", INDICATORS, observations,
                              scenarios=[OFFENSIVE])
        again = load_watchlist(cut, today=FIXED_TODAY)
        history = level_history(again.watchlist, again.observations, D(2022, 1, 1), D(2022, 2, 23))
        return backtest(history, [], [target], Level.HIGH, D(2022, 1, 1), D(2022, 2, 23)).targets[0].lead_days or 0

    rows = (folder / "observations.csv").read_text().splitlines(keepends=True)[1:]
    lead = lead_of("".join(rows))
    without = {line: lead_of("".join(rows[:line - 2] + rows[line - 1:])) for line in range(2, len(rows) + 2)}
    assert lead == 12  # high from 12 Feb: troops 26 (seen, strong) with the grouping (seen, strong)
    assert weights.rows == 5
    assert [(w.line, w.lead_days_without) for w in weights.weakest] == sorted(
        ((line, days) for line, days in without.items() if days < lead), key=lambda item: (item[1], item[0]))
    assert weights.min_lead_days == min(without.values()) == 0


def test_robustness_refuses_more_rows_than_it_can_leave_out(tmp_path):
    day = dt.date(2021, 6, 1)
    rows = "".join(f"{day + dt.timedelta(days=n % 80):%Y-%m-%d},troops,{n % 30},,,,,,,\n"
                   for n in range(MAX_ROBUSTNESS_ROWS + 1))
    folder = watchlist_with(tmp_path, rows)
    result = run("backtest", folder, "--target", "2021-08-20", "--robustness")
    assert (result.exit_code, result.stderr.strip()) == (2, (
        "Error: leaving out each row in turn needs 2,001 rows, more than 2,000; narrow the lead window "
        "(--lead-window) or give fewer targets"))


def test_a_day_with_an_empty_window_still_holds_the_level_in_status_as_in_history(tmp_path):
    """mean over 2 days held for 19: 53.9 (critical) on 21 January is held on 7 February although the
    day's own window is empty; status and history agree (they used to say NO DATA and CRITICAL)."""
    folder = write_watchlist(tmp_path / "w", [
        indicator("mean_held", aggregate="mean", window_days=2, hold_days=19,
                  thresholds={"elevated": 20, "high": 40, "critical": 50}),
        indicator("other", thresholds={"elevated": 1})], "2022-01-21,mean_held,53.9,,,,,,,\n"
                                                         "2022-02-01,other,0,,,,,,,\n")
    statuses, overall = evaluate(folder, D(2022, 2, 7))
    assert (statuses[0].level, statuses[0].raw_level, statuses[0].held) == (Level.CRITICAL, Level.NO_DATA, True)
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    history = level_history(loaded.watchlist, loaded.observations, D(2022, 2, 7), D(2022, 2, 7))
    assert (history["mean_held"].iloc[0], round(history["index"].iloc[0], 1), overall.index) == (3, 50.0, 50.0)


def html_of(app) -> str:
    return "\n".join(element.proto.body for element in app.get("html"))


def test_the_overview_has_a_line_per_scenario_and_the_scenarios_page_the_whole_board(monkeypatch, tmp_path):
    from helpers import open_page, run_app

    hostile = {**OFFENSIVE, "name": "<img src=x onerror=alert(1)> offensive"}
    folder = watchlist_with(tmp_path, ROWS, scenarios=[hostile], as_of="2022-02-05")
    app = run_app(monkeypatch, root=folder)
    body = html_of(app)
    assert 'class="wf-sit-scenario" data-scenario="offensive" data-level="high"' in body
    assert "&lt;img src=x onerror=alert(1)&gt; offensive" in body and "<img src=x" not in body
    assert "2 of 4 signs seen (2 strong)" in body
    marks = re.findall(r'data-state="([a-z]+)"[^>]*title="([^"]+)"', body)
    assert marks == [("seen", "Troops present: HIGH (seen; strong sign at HIGH)"),
                     ("seen", "Grouping formed: ELEVATED (seen; strong sign at ELEVATED)"),
                     ("unknown", "Exercise under way: STALE (unknown; moderate sign at ELEVATED)"),
                     ("unknown", "Strikes from territory: NO DATA (unknown; weak sign at CRITICAL)")]
    assert body.index("wf-sit-scenario") < body.index('class="wf-sit-row"')  # above the indicators
    body = html_of(open_page(app, "scenarios"))
    states = dict(re.findall(r'data-sign="([a-z_]+)" data-state="([a-z]+)"', body))
    assert states == {"troops": "seen", "grouping": "seen", "exercise": "unknown", "strikes": "unknown"}
    assert "Look for: Exercise under way: a fresh report (stale); Strikes from territory: any report (no data)" in body


def test_the_scenarios_page_draws_the_matrix_and_a_band_per_scenario(monkeypatch, tmp_path):
    from helpers import run_app

    folder = watchlist_with(tmp_path, ROWS, as_of="2022-02-05")
    app = run_app(monkeypatch, root=folder, page="scenarios")
    body = html_of(app)
    assert body.count('<td data-sign="') == 4 and "strong sign at HIGH" in body
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert chart["data"][0]["y"][0] == "\u25c6 Offensive from the north"


def test_the_backtest_page_judges_a_scenario_against_its_happened_date_and_shows_the_rows(monkeypatch, tmp_path):
    from helpers import run_app

    folder = resting_on_one_row(tmp_path)
    app = run_app(monkeypatch, root=folder, page="backtest")
    app.selectbox(key="bt_scenario").select("offensive").run()
    assert app.multiselect(key="bt_picked").value == ["2022-02-24"]  # its happened date, picked
    table = app.dataframe[0].value
    assert (bool(table.iloc[0]["warned"]), table.iloc[0]["lead (days)"]) == (True, 14)
    assert [metric.value for metric in app.metric][1:3] == ["not tested", "0"]
    app.toggle(key="bt_robustness").set_value(True).run()
    rows = app.dataframe[1].value
    assert rows[["row", "lead without it (days)"]].values.tolist() == [["observations.csv:4", 0]]
    assert app.query_params["scenario"] in ("offensive", ["offensive"])


def test_briefings_carry_the_scenario_board(tmp_path):
    from indicators.views.briefing import build_briefing_html, default_options

    folder = watchlist_with(tmp_path, ROWS, as_of="2022-02-05")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    page = build_briefing_html(loaded, default_options(loaded), plotly_js="")
    assert 'class="wf-sit-scenario" data-scenario="offensive" data-level="high"' in page
    assert "2 of 4 signs seen (2 strong)" in page
    assert page.index('class="wf-sit-scenario"') < page.index('class="wf-card"')
