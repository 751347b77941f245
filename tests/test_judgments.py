"""Estimative judgments: ICD 203 terms, the standing judgment as of a date, locked writes, and scores
against what happened (boundaries computed by hand)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from helpers import FIXED_TODAY, REPO, indicator, open_page, run_app, write_watchlist
from indicators.cli import app
from indicators.engine.judging import judgment_tension, score_judgments, standing_judgments
from indicators.format.judgments import TERMS, term_for
from indicators.format.models import Level
from indicators.store.loader import load_watchlist

D = dt.date
runner = CliRunner()
HEADER = "date,scenario,likelihood,confidence,rationale,source,url,analyst,reported\n"
SCENARIOS = [{"id": "offensive", "name": "Offensive", "happened": "2022-02-24",
              "signs": [{"indicator": "troops", "strength": "strong"}], "levels": {"elevated": {"seen": 1},
                                                                                   "high": {"seen": 1, "strong": 1}}},
             {"id": "second", "name": "Second offensive", "signs": [{"indicator": "troops"}],
              "levels": {"elevated": {"seen": 1}}}]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def folder_with(tmp_path, judgments: str = "", observations: str = "2022-01-01,troops,5,,,,,,,\n", **header):
    folder = write_watchlist(tmp_path / "w", [indicator("troops", name="Troops present")], observations,
                             scenarios=SCENARIOS, **header)
    if judgments is not None:
        (folder / "judgments.csv").write_text(HEADER + judgments, encoding="utf-8")
    return folder


def loaded(folder):
    result = load_watchlist(folder, today=FIXED_TODAY)
    assert result.problems == [], [p.format() for p in result.problems]
    return result


def test_the_seven_terms_either_word_any_case_score_as_the_middle_of_their_band():
    assert [(t.word, t.band, t.probability) for t in TERMS] == [
        ("almost no chance", "1-5%", 0.03), ("very unlikely", "5-20%", 0.125), ("unlikely", "20-45%", 0.325),
        ("roughly even chance", "45-55%", 0.5), ("likely", "55-80%", 0.675), ("very likely", "80-95%", 0.875),
        ("almost certain", "95-99%", 0.97)]
    assert term_for("Highly  Improbable").word == "very unlikely"
    assert term_for(" remote ").word == "almost no chance"
    assert term_for("fairly likely") is None


def test_the_standing_judgment_is_the_newest_known_on_the_day_ties_to_the_later_line(tmp_path):
    folder = folder_with(tmp_path, "2022-01-10,offensive,unlikely,,,,,,\n"
                                   "2022-01-20,offensive,likely,,,,,,2022-02-01\n"    # known from 1 Feb
                                   "2022-01-15,offensive,very likely,,,,,,\n"
                                   "2022-01-15,offensive,roughly even odds,,,,,,\n")  # same day, later line
    judgments = loaded(folder).judgments
    assert standing_judgments(judgments, D(2022, 1, 12))["offensive"]["likelihood"] == "unlikely"
    assert standing_judgments(judgments, D(2022, 1, 20))["offensive"]["likelihood"] == "roughly even chance"
    assert standing_judgments(judgments, D(2022, 2, 1))["offensive"]["likelihood"] == "likely"
    assert standing_judgments(judgments, D(2022, 1, 9)) == {}


BOUNDARIES = """\
2022-01-25,offensive,likely,,,,,,
2022-02-24,offensive,almost certain,,,,,,
2022-01-10,offensive,unlikely,,,,,,
2022-01-24,offensive,very unlikely,,,,,,
2022-01-20,offensive,very likely,,,,,,2022-06-02
2022-05-10,second,remote,,,,,,
2022-04-01,second,improbable,,,,,,
"""


def test_scores_follow_the_horizon_rule_at_its_boundaries(tmp_path):
    """offensive happened on 24 Feb; horizon 30 days; scored as of 1 June 2022:
    - 25 Jan, likely (0.675): 24 Feb = 25 Jan + 30, inside (j, j + 30]: resolved 1;
    - 24 Feb, almost certain: made on the day it happened: left out;
    - 10 Jan, unlikely (0.325): horizon ended 9 Feb without it: resolved 0;
    - 24 Jan, very unlikely (0.125): horizon ended 23 Feb, the day before: resolved 0;
    - 20 Jan, very likely, reported 2 June: not known on 1 June: left out;
    second never happened:
    - 10 May, remote (0.03): horizon ends 9 June, after 1 June: open;
    - 1 April, improbable (0.325): horizon ended 1 May: resolved 0."""
    folder = folder_with(tmp_path, BOUNDARIES)
    data = loaded(folder)
    scores = score_judgments(data.judgments, data.watchlist, D(2022, 6, 1), horizon=30)
    offensive, second = scores.scenarios["offensive"], scores.scenarios["second"]
    brier = ((0.675 - 1) ** 2 + 0.325 ** 2 + 0.125 ** 2) / 3
    assert (offensive.judgments, offensive.resolved, offensive.open) == (3, 3, 0)
    assert offensive.brier == pytest.approx(brier)
    assert offensive.reference_brier == pytest.approx(1 / 3 * 2 / 3)
    assert offensive.skill == pytest.approx(1 - brier / (2 / 9))
    assert (second.judgments, second.resolved, second.open, second.brier) == (2, 1, 1, pytest.approx(0.325 ** 2))
    assert (second.reference_brier, second.skill) == (0.0, None)  # base rate 0: no reference to beat
    overall = ((0.675 - 1) ** 2 + 0.325 ** 2 + 0.125 ** 2 + 0.325 ** 2) / 4
    assert (scores.all.resolved, scores.all.brier) == (4, pytest.approx(overall))
    assert scores.all.skill == pytest.approx(1 - overall / (0.25 * 0.75))
    before = score_judgments(data.judgments, data.watchlist, D(2022, 2, 20), horizon=30).scenarios["offensive"]
    assert (before.judgments, before.resolved, before.open) == (3, 1, 2)  # 24 Feb not yet known


def test_score_command_prints_json_and_a_table_with_the_reliability_of_each_band(tmp_path):
    folder = folder_with(tmp_path, BOUNDARIES, as_of="2022-06-01")
    result = run("score", folder, "--horizon", "30", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["horizon_days", "as_of", "scenarios", "all", "reliability"]
    assert document["scenarios"][0] == {"id": "offensive", "judgments": 3, "resolved": 3, "open": 0,
                                        "brier": 0.0756, "reference_brier": 0.2222, "skill": 0.6597}
    assert document["all"] == {"resolved": 4, "brier": 0.0831, "reference_brier": 0.1875, "skill": 0.5567}
    text = run("score", folder, "--horizon", "30").stdout
    assert "Offensive         3          3         0     0.076  0.222      0.66" in text
    assert "  likely (55-80%): 1 of 1 came true (100%)" in text
    assert "  unlikely (20-45%): 0 of 2 came true (0%)" in text


def test_judge_appends_one_checked_line(tmp_path):
    folder = folder_with(tmp_path, None)
    result = run("judge", folder, "--scenario", "offensive", "--likelihood", "Very Likely", "--confidence",
                 "moderate", "--date", "2022-02-18", "--rationale", '"at any time", Biden said', "--analyst",
                 "US President", "--by", "ana@example.org")
    assert result.exit_code == 0, result.output
    assert (folder / "judgments.csv").read_text() == (
        HEADER + '2022-02-18,offensive,Very Likely,moderate,"""at any time"", Biden said",,,US President,\n')
    assert loaded(folder).judgments["likelihood"].tolist() == ["very likely"]


@pytest.mark.parametrize("args, message", [
    (["--likelihood", "fairly likely"], 'Error: likelihood: "fairly likely" is not an ICD 203 likelihood term; use '
     "one of: almost no chance or remote (1-5%); very unlikely or highly improbable (5-20%); unlikely or improbable "
     "(20-45%); roughly even chance or roughly even odds (45-55%); likely or probable (55-80%); very likely or highly "
     "probable (80-95%); almost certain or nearly certain (95-99%)"),
    (["--likelihood", "likely", "--scenario", "nope"],
     'Error: scenario: "nope" is not a scenario in watchlist.yaml; known ids: offensive, second'),
    (["--likelihood", "likely", "--date", "2099-01-01"],
     "Error: date: 2099-01-01 is after today ({today}); judgments cannot be dated in the future (check the year)"),
])
def test_judge_refuses_bad_input_and_writes_nothing(tmp_path, args, message):
    folder = folder_with(tmp_path, "")
    before = (folder / "judgments.csv").read_bytes()
    if "--scenario" not in args:
        args = ["--scenario", "offensive"] + args
    result = run("judge", folder, *args)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [message.format(today=dt.date.today().isoformat()), "Nothing was written."]
    assert (folder / "judgments.csv").read_bytes() == before


APPEND_JUDGMENT = """
import sys
from pathlib import Path
from indicators.store.writing import append_judgment
append_judgment(Path(sys.argv[1]), {"date": "2022-02-01", "scenario": "offensive", "likelihood": "likely"})
"""


def test_a_judgment_writer_waits_while_another_holds_the_lock(tmp_path):
    from filelock import FileLock

    folder = folder_with(tmp_path, "2022-01-10,offensive,unlikely,,,,,,\n")
    path = folder / "judgments.csv"
    before = path.read_bytes()
    held = FileLock(str(folder / ".judgments.csv.lock"))
    held.acquire()
    try:
        process = subprocess.Popen([sys.executable, "-c", APPEND_JUDGMENT, str(folder)], cwd=REPO)
        time.sleep(3)
        assert process.poll() is None  # still waiting for the lock
        assert path.read_bytes() == before
    finally:
        held.release()
    assert process.wait(timeout=60) == 0
    assert path.read_bytes() == before + b"2022-02-01,offensive,likely,,,,,,\n"


def test_a_judgment_older_than_the_latest_evidence_is_marked():
    import pandas as pd

    judgment = pd.Series({"date": pd.Timestamp("2022-01-10"), "likelihood": "unlikely", "probability": 0.325})
    assert judgment_tension(Level.HIGH, judgment, D(2022, 2, 3)) == (
        "judgment predates the latest evidence: the scenario has been HIGH since 2022-02-03, the judgment of "
        "2022-01-10 says unlikely")
    assert judgment_tension(Level.HIGH, judgment, D(2022, 1, 5)) == (
        "the judgment (unlikely) and the indicators (HIGH) point different ways")
    assert judgment_tension(Level.ELEVATED, judgment, D(2022, 2, 3)) is None


def html_of(app) -> str:
    return "\n".join(element.proto.body for element in app.get("html"))


def test_the_board_shows_the_standing_judgment_with_its_words_and_range(monkeypatch, tmp_path):
    folder = folder_with(tmp_path, "2022-01-10,offensive,unlikely,moderate,\"<b>no</b> strike group\",ISW,"
                                   "https://example.org/isw,ISW,\n",
                         observations="2022-02-01,troops,5000,,,,,,,\n", as_of="2022-02-05")
    app = run_app(monkeypatch, root=folder)
    assert ('<span data-judgment="offensive">Judgment: <span class="wf-term">UNLIKELY</span> (20-45%), moderate '
            'confidence, 2022-01-10 '
            '<span class="wf-tension" title="judgment predates the latest evidence: the scenario has been HIGH since '
            '2022-02-01, the judgment of 2022-01-10 says unlikely">&#9888; predates the latest evidence</span>') in \
        html_of(app)  # the Overview's line: the words, the band and the date
    body = html_of(open_page(app, "scenarios"))  # the whole board
    assert re.search(r'data-judgment="offensive"[^>]*>.*UNLIKELY.*\(20-45%\).*moderate confidence', body)
    assert "2022-01-10" in body and "ISW" in body
    assert "&lt;b&gt;no&lt;/b&gt; strike group" in body and "<b>no</b>" not in body  # the rationale is text
    assert "judgment predates the latest evidence: the scenario has been HIGH since 2022-02-01" in body
    assert "No judgment recorded" in body  # the second scenario has none


def test_briefings_carry_the_standing_judgments_in_words(tmp_path):
    from indicators.views.briefing import build_briefing_html, default_options

    folder = folder_with(tmp_path, "2022-01-10,offensive,very likely,high,,,,NATO,\n",
                         observations="2022-02-01,troops,5000,,,,,,,\n", as_of="2022-02-05")
    data = loaded(folder)
    page = build_briefing_html(data, default_options(data), plotly_js="")
    assert ('<span data-judgment="offensive">Judgment: <span class="wf-term">VERY LIKELY</span> (80-95%), high '
            "confidence, 2022-01-10</span>") in page
    assert "0.875" not in page  # never a bare number


def test_an_editor_adds_a_judgment_from_the_app(monkeypatch, tmp_path):
    folder = folder_with(tmp_path, "", as_of="2022-02-05")
    app = run_app(monkeypatch, root=folder, page="update")
    app.selectbox(key="judgment_likelihood").select("very likely").run()
    app.text_area(key="judgment_rationale").input("Trains of armour seen near Gomel").run()
    app.button(key="add_judgment").click().run()
    assert not app.exception and not app.error
    assert (folder / "judgments.csv").read_text() == HEADER + (
        "2022-02-05,offensive,very likely,,Trains of armour seen near Gomel,,,,\n")
    assert app.text_area(key="judgment_rationale").value == ""  # the form is cleared


def test_the_scenarios_page_and_the_backtest_page_show_the_judgments(monkeypatch, tmp_path):
    folder = folder_with(tmp_path, BOUNDARIES, observations="2022-01-05,troops,5000,,,,,,,\n", as_of="2022-06-01")
    app = run_app(monkeypatch, root=folder, page="scenarios")
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    titles = [chart["layout"]["title"]["text"] for chart in charts]
    assert "Offensive: the analysts' judgment and the scenario's level" in titles
    app = run_app(monkeypatch, root=folder, page="backtest", targets="2022-02-24")
    app.number_input(key="score_horizon").set_value(30).run()
    table = app.dataframe[-1].value
    assert table[["scenario", "resolved", "open"]].values.tolist() == [
        ["Offensive", 3, 0], ["Second offensive", 1, 1], ["All scenarios", 4, 1]]
