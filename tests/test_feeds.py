"""Event feeds: ACLED and GDELT exports (and any table) as read-only observations, on DuckDB and Spark."""

from __future__ import annotations

import datetime as dt
import re
import os
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feed_fixtures import acled_row, unix, write_acled, write_fixture_watchlist
from helpers import run_app
from indicators.cli import app
from indicators.evaluate import evaluate_statuses
from indicators.loader import load_watchlist
from indicators.timeseries import level_scores_over_time
from indicators.writing import RowRejected, append_observation

TODAY = dt.date(2022, 4, 1)
runner = CliRunner()


@pytest.fixture
def fed(tmp_path) -> Path:
    return write_fixture_watchlist(tmp_path / "fed")


def values_on(folder: Path, as_of: dt.date, engine: str | None = None) -> dict:
    loaded = load_watchlist(folder, today=TODAY, feed_engine=engine)
    return {s.indicator.id: (s.level.value, s.value) for s in
            evaluate_statuses(loaded.watchlist, loaded.observations, as_of)}


def test_the_fixture_loads_with_exactly_its_two_bad_rows_reported(fed):
    loaded = load_watchlist(fed, today=TODAY)
    assert [p.format() for p in loaded.problems] == [
        'feeds/acled-2022.csv:8: event_date: "31 Feb 2022" is not a date; ACLED writes YYYY-MM-DD (also 16 May '
        "2025 or 7-Feb-25); the row is left out",
        'feeds/tally.csv:4: count: "three" is not a number; indicator tallies needs a number here; the row is left out',
    ]
    assert loaded.feeds["acled"].left_out == 1
    assert [file.label for file in loaded.feeds["acled"].files] == [
        "feeds/acled-2022-extra.parquet", "feeds/acled-2022-update.csv.gz", "feeds/acled-2022.csv"]


def test_all_three_acled_date_forms_give_the_same_day(fed):
    rows = load_watchlist(fed, today=TODAY).observations
    versions = rows[(rows["event_id"] == "BLR1") & (rows["indicator"] == "fatalities")]
    assert [str(day.date()) for day in versions["date"]] == ["2022-03-01"] * 3  # 2022-03-01, 1 March 2022, 1-Mar-22


def test_an_event_updated_twice_counts_as_its_newest_version_on_each_as_of_date(fed):
    # BLR1: uploaded 03-02 with no deaths, revised 03-05 to two deaths, revised 03-09 away from the railway
    assert values_on(fed, dt.date(2022, 3, 4))["fatalities"] == ("normal", 0.0)
    assert values_on(fed, dt.date(2022, 3, 5))["fatalities"] == ("elevated", 2.0)
    assert values_on(fed, dt.date(2022, 3, 5))["rail_sabotage"] == ("elevated", 2.0)  # BLR1, BLR2
    assert values_on(fed, dt.date(2022, 3, 9))["fatalities"] == ("elevated", 2.0)
    # from 03-09 BLR1's notes no longer mention the railway: it leaves the rail count
    assert values_on(fed, dt.date(2022, 3, 8))["rail_sabotage"] == ("elevated", 2.0)  # BLR1, BLR2 (BLR3 deleted)
    assert values_on(fed, dt.date(2022, 3, 9))["rail_sabotage"] == ("elevated", 1.0)  # BLR2 only


def test_a_deleted_event_counts_until_its_deletion_date(fed):
    assert values_on(fed, dt.date(2022, 3, 7))["rail_sabotage"] == ("high", 3.0)  # BLR1, BLR2, BLR3
    assert values_on(fed, dt.date(2022, 3, 8))["rail_sabotage"] == ("elevated", 2.0)  # BLR3 deleted on 03-08


def test_gz_and_parquet_exports_are_read_and_rows_count_from_their_upload_date(fed):
    assert values_on(fed, dt.date(2022, 3, 11))["rail_sabotage"] == ("elevated", 2.0)  # BLR2, BLR4 (.gz)
    assert values_on(fed, dt.date(2022, 3, 10))["rail_sabotage"] == ("elevated", 1.0)  # BLR4 uploaded 03-11
    assert values_on(fed, dt.date(2022, 3, 12))["rail_sabotage"] == ("high", 3.0)  # + BLR5 (.parquet)


def test_gdelt_duplicates_count_once_and_zipped_exports_are_read(fed):
    # 1001 and 1002 match (1002 is in both files), 1003 is verbal cooperation, 1004 is in Ukraine
    assert values_on(fed, dt.date(2022, 3, 2))["gdelt_force"] == ("elevated", 2.0)
    loaded = load_watchlist(fed, today=TODAY)
    gdelt = loaded.observations[loaded.observations["feed"] == "gdelt"]
    assert sorted(gdelt["event_id"]) == ["1001", "1002"]
    assert set(gdelt["reliability"].astype(str) + gdelt["credibility"].astype(str)) == {"C3"}  # the feed's own grade


def test_a_generic_csv_feed_takes_its_columns_by_name_and_versions_by_id(fed):
    assert values_on(fed, dt.date(2022, 3, 7))["tallies"] == ("elevated", 2.0)
    assert values_on(fed, dt.date(2022, 3, 8))["tallies"] == ("elevated", 4.0)  # T1 revised on 03-08


def test_the_daily_route_agrees_with_each_day_on_feed_rows(fed):
    loaded = load_watchlist(fed, today=TODAY)
    start, end = dt.date(2022, 2, 25), dt.date(2022, 4, 1)
    scores = level_scores_over_time(loaded.watchlist, loaded.observations, start, end)
    for offset in range((end - start).days + 1):
        day = start + dt.timedelta(days=offset)
        expected = [-2 if s.stale else (s.level.score if s.level.score is not None else -1)
                    for s in evaluate_statuses(loaded.watchlist, loaded.observations, day)]
        assert scores.iloc[offset].tolist() == expected, day


def test_a_new_export_dropped_into_the_folder_shows_on_the_next_load(fed):
    before = values_on(fed, dt.date(2022, 3, 20))["rail_sabotage"]
    write_acled(fed / "feeds" / "acled-2022-late.csv", [
        acled_row("BLR8", "2022-03-15", "2022-03-16", notes="Railway junction near Gomel set on fire.")])
    assert values_on(fed, dt.date(2022, 3, 20))["rail_sabotage"] == (before[0], before[1] + 1)


def test_a_rewritten_export_of_the_same_size_is_read_again(fed):
    path = fed / "feeds" / "acled-2022-update.csv.gz"
    assert values_on(fed, dt.date(2022, 3, 11))["rail_sabotage"][1] == 2.0
    write_acled(path, [acled_row("BLR4", "2022-03-10", "2022-03-11", notes="Signal cable near Svetlogorsk cut.")],
                gz=True)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert values_on(fed, dt.date(2022, 3, 11))["rail_sabotage"][1] == 1.0  # no longer about the railway


def test_feed_indicators_are_read_only(fed):
    with pytest.raises(RowRejected) as refused:
        append_observation(fed, {"date": "2022-03-02", "indicator": "rail_sabotage", "value": "1"}, today=TODAY)
    assert [p.message for p in refused.value.problems] == [
        '"rail_sabotage" takes its rows from feed acled; its rows are read-only here: add the event to the '
        "feed's files instead"]
    assert (fed / "observations.csv").read_text().count("\n") == 1


def test_reading_feeds_never_writes_into_the_watchlist_folder(fed):
    before = {path: path.stat().st_mtime_ns for path in fed.rglob("*")}
    load_watchlist(fed, today=TODAY)
    assert {path: path.stat().st_mtime_ns for path in fed.rglob("*")} == before  # zips unpack elsewhere


def test_feed_command_prints_weekly_matches_with_examples(fed):
    result = runner.invoke(app, ["feed", str(fed), "--indicator", "rail_sabotage", "--weekly", "--as-of",
                                 "2022-03-20"])
    lines = result.stdout.splitlines()
    assert "rail_sabotage (Rail sabotage (ACLED)) from feed acled: country = Belarus; event_type in Explosions/" \
           'Remote violence, Strategic developments; notes contains "railway" or "rail line"' in lines
    assert "  3 matching events known on 2022-03-20, dated 2022-03-03 to 2022-03-12" in lines
    assert ("  week of 2022-02-28:     1  2022-03-03 BLR2: Explosion damaged the rail line near Zhlobin. "
            "(sources: Nasha Niva)") in lines
    assert any(line.startswith("  week of 2022-03-07:     2  2022-03-10 BLR4: ") for line in lines)
    assert result.exit_code == 1  # the fixture's bad rows are printed and make it fail, like validate


def test_feed_command_names_a_missing_indicator(fed):
    result = runner.invoke(app, ["feed", str(fed), "--indicator", "rail"])
    assert result.exit_code == 2
    assert '--indicator "rail" is not an indicator of' in result.output


def test_validate_prints_each_feed_with_files_uploads_and_matches(fed):
    result = runner.invoke(app, ["validate", str(fed)])
    assert (f"{fed}: Feed gdelt (GDELT): 2 files (feeds/gdelt/20220301120000.export.CSV, feeds/gdelt/20220302000000.export"
            ".CSV.zip), newest upload 2022-03-02, 2 matching events") in result.stdout.splitlines()
    assert f"{fed}/feeds/tally.csv:4: count: " in result.stdout


def test_unreadable_lines_are_reported_on_their_physical_line(tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    path = folder / "feeds" / "acled-2022.csv"
    path.write_text(path.read_text() + "BLR10,2022-03-05,too,many\n")
    problems = [p.format() for p in load_watchlist(folder, today=TODAY).problems]
    assert ("feeds/acled-2022.csv:9: file: cannot be read: Expected Number of Columns: 31 Found: 4; the row is left "
            "out (check quotes and delimiters on this line)") in problems


def test_a_mended_line_is_no_longer_reported_in_the_same_process(tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    path = folder / "feeds" / "acled-2022.csv"
    good = path.read_text()
    path.write_text(good + "BLR10,2022-03-05,too,many\n")
    assert any(p.code == "feed_bad_line" for p in load_watchlist(folder, today=TODAY).problems)
    path.write_text(good)
    assert not any(p.code == "feed_bad_line" for p in load_watchlist(folder, today=TODAY).problems)


def test_a_timestamp_at_midnight_utc_is_that_day(tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    write_acled(folder / "feeds" / "acled-2022-late.csv", [
        acled_row("BLR8", "2022-03-15", "", notes="Railway relay burned.", timestamp=str(unix("2022-03-16", 0)))])
    rows = load_watchlist(folder, today=TODAY).observations
    assert str(rows.loc[rows["event_id"] == "BLR8", "reported"].iloc[0].date()) == "2022-03-16"


def java_available() -> bool:
    return shutil.which("java") is not None


spark_needed = pytest.mark.skipif(not java_available() and os.environ.get("CI") != "true",
                                  reason="Spark's local mode needs Java (CI installs Debian's headless JRE)")


@spark_needed
def test_spark_gives_the_same_rows_and_statuses_as_duckdb(fed):
    pytest.importorskip("pyspark") if os.environ.get("CI") != "true" else None
    columns = ["indicator", "date", "reported", "until", "value", "event_id", "source", "note", "url", "feed_file"]
    duck = load_watchlist(fed, today=TODAY, feed_engine="duckdb")
    spark = load_watchlist(fed, today=TODAY, feed_engine="spark")
    assert [p.format() for p in spark.problems] == [p.format() for p in duck.problems]

    def table(loaded):
        rows = loaded.observations[columns].astype(str)
        return sorted(map(tuple, rows.to_numpy().tolist()))

    assert table(spark) == table(duck)
    for day in range(28, 60):
        as_of = dt.date(2022, 2, 1) + dt.timedelta(days=day)
        assert values_on(fed, as_of, "spark") == values_on(fed, as_of, "duckdb"), as_of


# ---------------------------------------------------------------- the app

HOSTILE = "<img src=x onerror=alert(1)>"


def test_a_feed_indicator_card_names_the_feed_and_its_grade(monkeypatch, fed):
    write_acled(fed / "feeds" / "acled-2022-late.csv", [
        acled_row("BLR8", "2022-03-05", "2022-03-06", notes=f"Railway relay burned {HOSTILE}", source=HOSTILE)])
    app = run_app(monkeypatch, fed, as_of="2022-03-07")
    app.toggle(key="full_cards").set_value(True).run()
    body = "\n".join(element.proto.body for element in app.get("html"))
    card = body[body.index('class="wf-card" data-indicator="rail_sabotage"'):]
    card = card[:card.index('<div class="wf-card"', 10)] if '<div class="wf-card"' in card[10:] else card
    assert 'data-level="critical"' not in card and 'data-level="high"' in card  # BLR1-3 and BLR8: 4 >= 3
    assert "4 in the last 30 days" in card
    assert "feed ACLED &middot; grade B2" in card
    assert ("<li>New ACLED event 2022-03-06: Rail sabotage (ACLED): BLR8, dated 2022-03-05: Railway relay burned "
            "&lt;img src=x onerror=alert(1)&gt;") in body  # what changed: the event, its id and its note, as text
    timelines = run_app(monkeypatch, fed, as_of="2022-03-07", page="timelines")
    spec = "".join(chart.proto.spec for chart in timelines.get("plotly_chart"))
    assert "Railway relay burned &lt;img src=x onerror=alert(1)&gt; (sources: &lt;img" in spec  # hover text
    assert "Event BLR8 in feeds\\u002facled-2022-late.csv" in spec
    assert "<img" not in spec and HOSTILE not in body


def test_a_feed_indicator_history_lists_versions_and_offers_no_edits(monkeypatch, fed):
    app = run_app(monkeypatch, fed, page="indicator", indicator="rail_sabotage", as_of="2022-03-06")
    body = "\n".join(element.proto.body for element in app.get("html"))
    table = re.search(r'<table class="wf-history">.*?</table>', body, re.S).group(0)
    # each version: reported, replaced on (blank while nothing replaced it), the event and its file
    history = re.findall(r'<td class="wf-nowrap">([0-9-]+)</td><td class="wf-nowrap">([0-9-]*)</td>.*?'
                         r'<td>(BLR[0-9]+) feeds/', table)
    assert sorted((event, reported, until) for reported, until, event in history) == [
        ("BLR1", "2022-03-02", "2022-03-05"), ("BLR1", "2022-03-05", ""),  # replaced again on 03-09: not known yet
        ("BLR2", "2022-03-04", ""), ("BLR3", "2022-03-06", "")]  # deleted on 03-08: not known yet
    assert "Row" not in [box.label for box in app.selectbox]  # no "Change a row" picker
    assert any("Read-only: the rows of this indicator come from feed acled" in caption.value.replace("\\", "")
               for caption in app.caption)


def test_the_update_page_offers_only_indicators_fed_by_hand(monkeypatch, tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    text = (folder / "watchlist.yaml").read_text()
    (folder / "watchlist.yaml").write_text(text + "  - id: troops\n    name: Troops\n    category: Military\n"
                                                  "    thresholds: {elevated: 1000}\n")
    app = run_app(monkeypatch, folder, page="update")
    indicator_box = next(box for box in app.selectbox if box.label == "Indicator")
    assert indicator_box.options == ["Troops"]


def test_a_briefing_footer_names_each_feed_as_known_on_its_date(fed):
    from dashboard.briefing import build_briefing_html, default_options

    loaded = load_watchlist(fed, today=TODAY)
    html = build_briefing_html(loaded, default_options(loaded, as_of=dt.date(2022, 3, 6)), plotly_js="")
    assert ("Feed acled (ACLED): feeds/acled-2022-extra.parquet, feeds/acled-2022-update.csv.gz, "
            "feeds/acled-2022.csv; newest upload 2022-03-06 on or before 2022-03-06; 3 matching events known then"
            ) in html  # BLR1-3 (BLR4 and BLR5 were uploaded later)
    assert ("Feed gdelt (GDELT): feeds/gdelt/20220301120000.export.CSV, feeds/gdelt/20220302000000.export.CSV.zip; "
            "newest upload 2022-03-01 on or before 2022-03-06; 2 matching events known then") in html
    assert "Feed tally: feeds/tally.csv; newest upload 2022-03-02 on or before 2022-03-06; 1 matching event known" in html


@spark_needed
def test_a_spark_catalog_table_gives_the_same_rows_as_the_files(tmp_path, fed):
    from indicators.feeds import connect
    from indicators.feedlayouts import GDELT_COLUMNS

    session = connect("spark")._session
    schema = ", ".join(f"`{name}` STRING" for name in GDELT_COLUMNS)
    session.read.csv(str(fed / "feeds" / "gdelt" / "20220301120000.export.CSV"), sep="\t", schema=schema) \
        .createOrReplaceTempView("gdelt_events")
    folder = tmp_path / "warehouse"
    folder.mkdir()
    (folder / "observations.csv").write_text("date,indicator,value\n")
    (folder / "watchlist.yaml").write_text(
        "title: Warehouse\nfeeds:\n  gdelt: {format: gdelt, engine: spark, table: gdelt_events}\nindicators:\n"
        "  - {id: force, name: Force, category: M, aggregate: count, window_days: 7, thresholds: {elevated: 1},\n"
        "     feed: {name: gdelt, where: {ActionGeo_CountryCode: BO, EventRootCode: ['15', '19']}}}\n")
    loaded = load_watchlist(folder, today=TODAY)
    assert loaded.problems == []
    assert sorted(loaded.observations["event_id"]) == ["1001", "1002"]
    assert set(loaded.observations["feed_file"]) == {"gdelt_events"}


def test_a_table_feed_needs_the_spark_engine(tmp_path):
    folder = tmp_path / "warehouse"
    folder.mkdir()
    (folder / "observations.csv").write_text("date,indicator,value\n")
    (folder / "watchlist.yaml").write_text(
        "title: Warehouse\nfeeds:\n  gdelt: {format: gdelt, table: gdelt_events}\nindicators:\n"
        "  - {id: force, name: Force, category: M, thresholds: {elevated: 1}}\n")
    assert [p.format() for p in load_watchlist(folder, today=TODAY).problems] == [
        "watchlist.yaml:3: feeds.gdelt: table needs engine: spark (a table in the Spark catalog); DuckDB reads files: "
        "use path"]


EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "acled-rail-sabotage"


def test_the_synthetic_acled_example_is_clean_marked_and_follows_revisions_and_deletions():
    loaded = load_watchlist(EXAMPLE)
    assert loaded.problems == []
    assert loaded.watchlist.marking == "SYNTHETIC EXAMPLE DATA - NOT REAL EVENTS"
    rows = loaded.observations
    assert (rows["note"].str.startswith("SYNTHETIC EXAMPLE:")).all()

    def counted(day: str) -> set[str]:
        from indicators.changes import known_observations

        return set(known_observations(rows, dt.date.fromisoformat(day))["event_id"])

    assert "SYN005" in counted("2022-03-19") and "SYN005" not in counted("2022-03-20")  # revised off the railway
    assert "SYN010" in counted("2022-03-24") and "SYN010" not in counted("2022-03-25")  # deleted
    assert "SYN900" not in counted("2022-04-30")  # a protest, not a rail event


def test_a_broken_zip_or_gzip_is_named_and_the_other_files_still_count(tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    (folder / "feeds" / "gdelt" / "20220303000000.export.CSV.zip").write_bytes(b"PK\x03\x04 not really a zip")
    loaded = load_watchlist(folder, today=TODAY)
    assert ("feeds/gdelt/20220303000000.export.CSV.zip: file: is not a readable zip file (damaged, cut short, or "
            "not a zip); the file is left out") in [p.format() for p in loaded.problems]
    assert values_on(folder, dt.date(2022, 3, 2))["gdelt_force"] == ("elevated", 2.0)


def test_spark_missing_is_a_problem_with_the_install_line_not_a_crash(tmp_path, monkeypatch):
    import sys

    from indicators import feeds

    folder = write_fixture_watchlist(tmp_path / "fed")
    text = (folder / "watchlist.yaml").read_text().replace("    format: csv\n", "    format: csv\n    engine: spark\n")
    (folder / "watchlist.yaml").write_text(text)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    monkeypatch.setattr(feeds, "_connections", {})
    loaded = load_watchlist(folder, today=TODAY)
    assert ('watchlist.yaml: feeds.tally.engine: engine spark needs the spark extra: pip install "watchfloor[spark]" '
            "(and Java 17 or later for local mode)") in [p.format() for p in loaded.problems]
    assert values_on(folder, dt.date(2022, 3, 6))["rail_sabotage"] == ("high", 3.0)  # the other feeds still count
