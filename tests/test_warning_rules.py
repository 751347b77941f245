"""Warning rules: change over a baseline, held levels, cut-offs and floors; history and backtests."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from typer.testing import CliRunner

from helpers import DEFAULT_WATCHLIST, FIXED_TODAY, indicator, open_page, shown, write_watchlist
from indicators.cli import app
from indicators.engine.backtest import backtest, level_history
from indicators.engine.report import status_report
from indicators.engine.rules import evaluate_watchlist
from indicators.format.models import Level
from indicators.store.loader import load_watchlist

D = dt.date
runner = CliRunner()


def evaluate(folder, day):
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert loaded.problems == [], [p.format() for p in loaded.problems]
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, day)
    return {s.indicator.id: s for s in statuses}, overall


def incidents(**rule):
    return indicator("inc", aggregate="count", window_days=7, thresholds={"elevated": 10, "high": 25, "critical": 100},
                     change={"baseline_days": 28, **rule})


def test_change_compares_the_window_with_the_scaled_baseline_before_it(tmp_path):
    # baseline (09-03 .. 09-30]: 8 events over 28 days = 2 per 7 days; window (09-30 .. 10-07]: 3 -> +50%
    rows = "".join(f"2022-09-{day:02d},inc,,,,,,,,\n" for day in (4, 8, 11, 15, 18, 22, 25, 29))
    rows += "2022-10-01,inc,,,,,,,,\n2022-10-03,inc,,,,,,,,\n2022-10-07,inc,,,,,,,,\n"
    folder = write_watchlist(tmp_path, [incidents()], rows)
    status = evaluate(folder, D(2022, 10, 7))[0]["inc"]
    assert (status.value, status.baseline, status.change, status.level) == (3, 2.0, 50.0, Level.HIGH)
    # 10-08: the 10-01 row leaves the window (and enters the baseline): 2 against 2.25
    later = evaluate(folder, D(2022, 10, 8))[0]["inc"]
    assert (later.value, later.baseline, round(later.change, 1), later.level) == (2, 2.25, -11.1, Level.NORMAL)


def test_change_from_a_zero_baseline_is_infinite_and_null_in_json(tmp_path):
    folder = write_watchlist(tmp_path, [incidents()], "2022-08-01,inc,0,,,,,,,\n2022-10-07,inc,,,,,,,,\n")
    status = evaluate(folder, D(2022, 10, 7))[0]["inc"]
    assert math.isinf(status.change) and status.level is Level.CRITICAL
    item = status_report("T", D(2022, 10, 7), evaluate(folder, D(2022, 10, 7))[1], [status])["indicators"][0]
    assert (item["change"], item["baseline"], item["level"]) == (None, 0.0, "critical")


def test_the_low_baseline_guard_keeps_small_numbers_normal(tmp_path):
    folder = write_watchlist(tmp_path, [incidents(min_baseline=2, min_value=5)],
                             "2022-09-20,inc,,,,,,,,\n2022-10-06,inc,,,,,,,,\n2022-10-07,inc,,,,,,,,\n")
    status = evaluate(folder, D(2022, 10, 7))[0]["inc"]
    assert status.change == 700.0 and status.level is Level.NORMAL  # 2 vs 0.25, but both are small


def test_a_held_level_stays_for_hold_days_from_the_day_it_was_reached(tmp_path):
    folder = write_watchlist(tmp_path, [indicator(hold_days=3)], "2022-10-01,troops,35,,,,,,,\n"
                                                                 "2022-10-02,troops,5,,,,,,,\n")
    for day, level, held in ((1, Level.CRITICAL, False), (2, Level.CRITICAL, True), (3, Level.CRITICAL, True),
                             (4, Level.NORMAL, False)):  # 10-01 .. 10-03 hold; 10-04 is past D-H+1
        status = evaluate(folder, D(2022, 10, day))[0]["troops"]
        assert (status.level, status.held) == (level, held), day
    held = evaluate(folder, D(2022, 10, 2))[0]["troops"]
    assert held.raw_level is Level.NORMAL
    item = status_report("T", D(2022, 10, 2), evaluate(folder, D(2022, 10, 2))[1], [held])["indicators"][0]
    assert (item["level"], item["raw_level"], item["held"]) == ("critical", "normal", True)


def test_a_level_reported_late_is_held_only_from_its_reported_day(tmp_path):
    folder = write_watchlist(tmp_path, [indicator(hold_days=5)], "2022-10-01,troops,5,,,,,,,\n"
                                                                 "2022-10-02,troops,35,,,,,,2022-10-04,\n"
                                                                 "2022-10-03,troops,5,,,,,,,\n")
    assert evaluate(folder, D(2022, 10, 3))[0]["troops"].level is Level.NORMAL  # not known yet
    assert evaluate(folder, D(2022, 10, 4))[0]["troops"].level is Level.NORMAL  # known, but 10-03 is newer


def test_a_stale_level_is_not_held_over_the_next_fresh_report(tmp_path):
    # critical on 09-01, stale from 09-12 (10 days); a fresh normal report on 10-01 is what stands
    folder = write_watchlist(tmp_path, [indicator(hold_days=14, stale_after_days=10)],
                             "2022-09-01,troops,35,,,,,,,\n2022-10-01,troops,5,,,,,,,\n")
    assert evaluate(folder, D(2022, 9, 20))[0]["troops"].stale
    fresh = evaluate(folder, D(2022, 10, 1))[0]["troops"]
    assert (fresh.level, fresh.held, fresh.stale) == (Level.NORMAL, False, False)


def test_floors_by_indicator_and_by_count_lift_the_overall_level_with_reasons(tmp_path):
    folder = write_watchlist(
        tmp_path, [indicator("a", weight=2), indicator("b"), indicator("c"), indicator("d")],
        "2022-10-01,a,35,,,,,,,\n2022-10-01,b,25,,,,,,,\n2022-10-01,c,25,,,,,,,\n2022-10-01,d,0,,,,,,,\n",
        overall={"floors": [{"indicator": "a", "at": "critical", "lifts_to": "high"},
                            {"count": 3, "at": "high"}, {"count": 4, "at": "elevated", "lifts_to": "critical"}]})
    overall = evaluate(folder, D(2022, 10, 1))[1]
    # index = 100 * (2*3 + 2 + 2 + 0) / (3 * 5) = 66.7 -> high; both floors hold, the third does not
    assert (overall.index, overall.index_level, overall.level) == (66.7, Level.HIGH, Level.HIGH)
    assert overall.reasons == ("index 66.7 -> high", "A is critical -> at least high",
                               "3 indicators are high or above -> at least high")


def test_the_index_level_is_judged_on_the_index_as_shown(tmp_path):
    # index = 100 * (3 + 2 * 2) / 9 = 77.77..., shown as 77.8: a cut-off at 77.8 is reached, as the reader sees it
    folder = write_watchlist(tmp_path, [indicator("a"), indicator("b", weight=2)],
                             "2022-10-01,a,35,,,,,,,\n2022-10-01,b,25,,,,,,,\n",
                             overall={"cutoffs": {"elevated": 20, "high": 77.8, "critical": 90}})
    overall = evaluate(folder, D(2022, 10, 1))[1]
    assert overall.index == 77.8 and overall.level is Level.HIGH  # 77.777... shown as 77.8 reaches 77.8


def test_no_current_indicator_is_no_data_even_with_floors(tmp_path):
    folder = write_watchlist(tmp_path, [indicator(stale_after_days=2)], "2022-10-01,troops,35,,,,,,,\n",
                             overall={"floors": [{"count": 1, "at": "elevated"}]})
    overall = evaluate(folder, D(2022, 10, 9))[1]
    assert (overall.level, overall.reasons) == (Level.NO_DATA, ("no current indicator -> no data",))


def hand_made_history(tmp_path):
    """One indicator: elevated 01-05..01-09, high 01-10..01-19 (target 01-20), normal, then high
    02-15..02-17 (nothing followed: a false alarm)."""
    rows = ("2022-01-05,troops,15,,,,,,,\n2022-01-10,troops,25,,,,,,,\n2022-01-20,troops,5,,,,,,,\n"
            "2022-02-15,troops,25,,,,,,,\n2022-02-18,troops,5,,,,,,,\n")
    folder = write_watchlist(tmp_path, [indicator(), indicator("other")], rows + "2022-01-01,other,0,,,,,,,\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    return loaded, level_history(loaded.watchlist, loaded.observations, D(2022, 1, 1), D(2022, 3, 31))


def test_backtest_lead_time_first_warning_and_false_alarms_on_a_known_series(tmp_path):
    loaded, history = hand_made_history(tmp_path)
    ids = ["troops", "other"]
    high = backtest(history, ids, [D(2022, 1, 20)], Level.HIGH, D(2022, 1, 1), D(2022, 3, 31), 30, 10)
    (target,) = high.targets
    # overall: index = 100 * 2 / 6 = 33.3 while troops is high -> elevated; so the overall never reaches high
    assert (target.warned, target.first_warning, target.lead_days) == (False, None, None)
    assert target.indicators == {"troops": D(2022, 1, 10), "other": None}
    elevated = backtest(history, ids, [D(2022, 1, 20)], Level.ELEVATED, D(2022, 1, 1), D(2022, 3, 31), 30, 10)
    (target,) = elevated.targets
    assert (target.warned, target.first_warning, target.lead_days) == (True, D(2022, 1, 10), 10)
    assert elevated.false_alarm_days == 3  # 02-15, 02-16, 02-17: outside [12-21, 01-30]
    assert elevated.days == 90
    wide = backtest(history, ids, [D(2022, 1, 20)], Level.ELEVATED, D(2022, 1, 1), D(2022, 3, 31), 30, 30)
    assert wide.false_alarm_days == 0  # 02-15..02-17 now fall inside the after-window


def test_backtest_of_a_target_before_any_data_did_not_warn(tmp_path):
    loaded, history = hand_made_history(tmp_path)
    result = backtest(history, ["troops", "other"], [D(2022, 1, 1)], Level.ELEVATED, D(2022, 1, 1), D(2022, 3, 31))
    assert result.as_dict()["targets"] == [{"date": "2022-01-01", "warned": False, "first_warning": None,
                                            "lead_days": None, "indicators": {"troops": None, "other": None}}]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_backtest_command_prints_json_and_a_table(tmp_path):
    result = run("backtest", DEFAULT_WATCHLIST, "--target", "2022-02-24", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["level", "scenario", "from", "to", "days", "targets", "false_alarm_days", "quiet_days",
                              "false_alarm_rate"]
    assert (document["level"], document["from"], document["to"]) == ("high", "2021-09-09", "2022-03-26")
    target = document["targets"][0]
    assert (target["date"], target["warned"]) == ("2022-02-24", True)
    assert target["lead_days"] == (dt.date(2022, 2, 24) - dt.date.fromisoformat(target["first_warning"])).days
    text = run("backtest", DEFAULT_WATCHLIST, "--target", "2022-02-24").stdout
    assert "TARGET      WARNED  FIRST WARNING  LEAD" in text


@pytest.mark.parametrize("args, message", [
    (["--target", "24-02-2022"], 'Error: --target "24-02-2022" is not a date; use YYYY-MM-DD, e.g. 2022-10-17'),
    (["--target", "2022-02-24", "--level", "severe"], 'Error: --level "severe": use elevated, high or critical'),
    (["--target", "2022-02-24", "--from", "2022-03-01", "--to", "2022-02-01"],
     "Error: --from 2022-03-01 is after --to 2022-02-01"),
])
def test_backtest_usage_errors_exit_2_with_the_reason(args, message):
    result = run("backtest", DEFAULT_WATCHLIST, *args)
    assert result.exit_code == 2 and result.stderr.strip() == message


def test_history_command_json_and_csv_have_the_documented_shape():
    result = run("history", DEFAULT_WATCHLIST, "--from", "2022-02-23", "--to", "2022-02-24")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [record["date"] for record in records] == ["2022-02-23", "2022-02-24"]
    assert list(records[0]) == ["date", "level", "index", "indicators", "scenarios"]
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    assert list(records[0]["indicators"]) == [i.id for i in loaded.watchlist.indicators]
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, D(2022, 2, 24))
    assert (records[1]["level"], records[1]["index"]) == (overall.level.value, overall.index)
    csv = run("history", DEFAULT_WATCHLIST, "--from", "2022-02-23", "--to", "2022-02-24", "--csv").stdout
    lines = csv.splitlines()
    assert lines[0] == ("date,level,index," + ",".join(i.id for i in loaded.watchlist.indicators) + ","
                        + ",".join(f"scenario:{s.id}" for s in loaded.watchlist.scenarios))
    assert lines[2].startswith(f"2022-02-24,{overall.level.value},{overall.index:.1f},")


def test_backtest_page_shows_the_table_and_marks_the_targets_on_timelines(monkeypatch):
    from test_app import run_app
    from test_app_as_of import chart_specs

    app = run_app(monkeypatch, page="backtest", targets="2022-02-24")
    assert not app.error
    table = app.dataframe[0].value
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    ids = [i.id for i in loaded.watchlist.indicators]
    history = level_history(loaded.watchlist, loaded.observations, D(2022, 1, 17), D(2022, 3, 26))
    expected = backtest(history, ids, [D(2022, 2, 24)], Level.HIGH, D(2022, 1, 17), D(2022, 3, 26)).targets[0]
    row = table.iloc[0]
    assert (bool(row["warned"]), row["lead (days)"]) == (expected.warned, expected.lead_days)
    assert [metric.value for metric in app.metric][0] == "1 of 1"
    app.text_input(key="bt_targets").input("2022-02-24, 24 Feb").run()
    assert shown(app.error[0].value) == "Not a date: 24 Feb. Write dates as YYYY-MM-DD, separated by commas."
    open_page(app, "timelines")
    app.sidebar.date_input(key="as_of").set_value(D(2022, 3, 1)).run()
    notes = [note["text"] for note in chart_specs(app)["Overall index"]["layout"]["annotations"]]
    assert f"target 2022-02-24: warned {expected.lead_days} d ahead" in notes


def test_overview_shows_why_the_overall_level_is_what_it_is(monkeypatch, tmp_path):
    from test_app import html_of, run_app

    folder = write_watchlist(tmp_path / "w", [indicator("a"), indicator("b"), indicator("c")],
                             "2022-10-16,a,35,,,,,,,\n2022-10-16,b,0,,,,,,,\n2022-10-16,c,0,,,,,,,\n",
                             as_of="2022-10-17", overall={"floors": [{"indicator": "a", "at": "critical"}]})
    body = html_of(run_app(monkeypatch, root=folder))
    assert 'data-overall-level="critical"' in body
    assert ('Why: <span class="wf-reason">index 33.3 -&gt; elevated</span>; '
            '<span class="wf-reason">A is critical -&gt; at least critical</span>') in body


def test_held_periods_show_on_the_state_timeline():
    from indicators.views.figures import build_state_timeline_figure
    import pandas as pd

    days = pd.date_range("2022-01-01", periods=4)
    scores = pd.DataFrame({"a": [3, 3, 3, 0]}, index=days)
    held = pd.DataFrame({"a": [False, True, True, False]}, index=days)
    figure = build_state_timeline_figure(scores, {"a": "A"}, D(2022, 1, 4), D(2022, 1, 1), D(2022, 1, 4), held)
    marks = next(trace for trace in figure.data if trace.name == "held")
    assert [pd.Timestamp(x) for x in marks.x] == list(days[1:3]) and list(marks.y) == ["A", "A"]
