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

from feed_fixtures import acled_row, gdelt_row, unix, write_acled, write_fixture_watchlist, write_parquet
from helpers import run_app
from indicators.cli import app
from indicators.engine.evaluate import evaluate_statuses
from indicators.engine.timeseries import level_scores_over_time
from indicators.store.loader import load_watchlist
from indicators.store.writing import RowRejected, append_observation

TODAY = dt.date(2022, 4, 1)
runner = CliRunner()


@pytest.fixture
def fed(tmp_path) -> Path:
    return write_fixture_watchlist(tmp_path / "fed")


def values_on(folder: Path, as_of: dt.date, engine: str | None = None) -> dict:
    return statuses_on(load_watchlist(folder, today=TODAY, feed_engine=engine), as_of)


def statuses_on(loaded, as_of: dt.date) -> dict:
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


@pytest.mark.slow
@spark_needed
def test_spark_gives_the_same_rows_and_statuses_as_duckdb_from_files_and_from_a_catalog_table(tmp_path, fed):
    """One test, so that Spark's JVM starts once for both (10 s each time it starts)."""
    pytest.importorskip("pyspark") if os.environ.get("CI") != "true" else None
    columns = ["indicator", "date", "reported", "until", "value", "event_id", "source", "note", "url", "feed_file"]
    duck = load_watchlist(fed, today=TODAY, feed_engine="duckdb")
    spark = load_watchlist(fed, today=TODAY, feed_engine="spark")
    assert [p.format() for p in spark.problems] == [p.format() for p in duck.problems]

    def table(loaded):
        rows = loaded.observations[columns].astype(str)
        return sorted(map(tuple, rows.to_numpy().tolist()))

    assert table(spark) == table(duck)
    for day in range(28, 60):  # each engine's rows read once, then every day's statuses from them
        as_of = dt.date(2022, 2, 1) + dt.timedelta(days=day)
        assert statuses_on(spark, as_of) == statuses_on(duck, as_of), as_of

    # a table in Spark's catalog in place of the files: the rows of the file it was made from
    from indicators.feeds.query import connect
    from indicators.format.feed_layouts import GDELT_COLUMNS

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
    from indicators.views.briefing import build_briefing_html, default_options

    loaded = load_watchlist(fed, today=TODAY)
    html = build_briefing_html(loaded, default_options(loaded, as_of=dt.date(2022, 3, 6)), plotly_js="")
    assert ("Feed acled (ACLED): feeds/acled-2022-extra.parquet, feeds/acled-2022-update.csv.gz, "
            "feeds/acled-2022.csv; newest upload 2022-03-06 on or before 2022-03-06; 3 matching events known then"
            ) in html  # BLR1-3 (BLR4 and BLR5 were uploaded later)
    assert ("Feed gdelt (GDELT): feeds/gdelt/20220301120000.export.CSV, feeds/gdelt/20220302000000.export.CSV.zip; "
            "newest upload 2022-03-01 on or before 2022-03-06; 2 matching events known then") in html
    assert "Feed tally: feeds/tally.csv; newest upload 2022-03-02 on or before 2022-03-06; 1 matching event known" in html


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
        from indicators.engine.changes import known_observations

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

    from indicators.feeds import query as feeds

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


# ---------------------------------------------------------------- hostile and broken files


def problems_of(folder: Path) -> list[str]:
    return [p.format() for p in load_watchlist(folder, today=TODAY).problems]


FIXTURE_PROBLEMS = [
    'feeds/acled-2022.csv:8: event_date: "31 Feb 2022" is not a date; ACLED writes YYYY-MM-DD (also 16 May 2025 or '
    "7-Feb-25); the row is left out",
    'feeds/tally.csv:4: count: "three" is not a number; indicator tallies needs a number here; the row is left out']


def test_a_file_not_in_utf8_has_each_bad_line_named_and_its_rows_kept_and_the_engine_goes_on(fed):
    path = write_acled(fed / "feeds" / "acled-latin.csv", [
        acled_row("BLR7", "2022-03-05", "2022-03-06", notes="Railway café near Brest burned."),
        acled_row("BLR8", "2022-03-06", "2022-03-06", notes="Rail line near Pinsk blocked."),
        acled_row("BLR9b", "2022-03-06", "2022-03-06", notes="Relay on the railway at Luniniec burned, naïvely.")])
    path.write_bytes(path.read_bytes().decode("utf-8").encode("latin-1"))  # as a spreadsheet might save it
    fix = ("the line is read with U+FFFD in place of the bad bytes: save the file as UTF-8, or give the feed's "
           "encoding in watchlist.yaml (e.g. encoding: cp1252)")
    for _ in range(2):  # and again in the same process: nothing is left broken
        assert problems_of(fed) == sorted([f"feeds/acled-latin.csv:2: encoding: is not UTF-8 here (byte 0xe9); {fix}",
                                           f"feeds/acled-latin.csv:4: encoding: is not UTF-8 here (byte 0xef); {fix}",
                                           *FIXTURE_PROBLEMS])
    assert values_on(fed, dt.date(2022, 3, 7))["rail_sabotage"] == ("high", 6.0)  # BLR1-3 and all three rows
    assert values_on(fed, dt.date(2022, 3, 2))["gdelt_force"] == ("elevated", 2.0)  # the other feeds too
    rows = load_watchlist(fed, today=TODAY).observations
    assert rows.loc[rows["event_id"] == "BLR7", "note"].iloc[0].startswith("Railway caf\ufffd near Brest")


def test_a_declared_encoding_reads_the_feed_as_written(fed):
    text = (fed / "watchlist.yaml").read_text()
    (fed / "watchlist.yaml").write_text(text.replace("    deletions: feeds/acled-deletions.csv\n",
                                                     "    deletions: feeds/acled-deletions.csv\n    encoding: cp1252\n"))
    path = write_acled(fed / "feeds" / "acled-latin.csv", [
        acled_row("BLR7", "2022-03-05", "2022-03-06", notes="Railway café near Brest burned – 2 wagons.")])
    path.write_bytes(path.read_bytes().decode("utf-8").encode("cp1252"))
    assert problems_of(fed) == FIXTURE_PROBLEMS
    rows = load_watchlist(fed, today=TODAY).observations
    assert rows.loc[rows["event_id"] == "BLR7", "note"].iloc[0].startswith("Railway café near Brest burned – 2 wagons.")
    (fed / "watchlist.yaml").write_text(text.replace("  acled:\n", "  acled:\n    encoding: klingon\n"))
    assert ('watchlist.yaml:4: feeds.acled.encoding: "klingon" is not a text encoding; use e.g. utf-8, cp1252, '
            "latin-1 or utf-16") in problems_of(fed)


def _zip_with(path: Path, data: bytes, *, flag_bits: int = 0, method: int | None = None,
              compression: int = __import__("zipfile").ZIP_DEFLATED) -> Path:
    """A one-member zip, its headers patched to claim encryption or another compression method."""
    import struct
    import zipfile

    buffer = __import__("io").BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(path.name.removesuffix(".zip"), data)
    blob = bytearray(buffer.getvalue())
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = blob.index(signature)
        if flag_bits:
            struct.pack_into("<H", blob, at + flag_at, struct.unpack_from("<H", blob, at + flag_at)[0] | flag_bits)
        if method is not None:
            struct.pack_into("<H", blob, at + method_at, method)
    path.write_bytes(bytes(blob))
    return path


def _damaged(kind: str, folder: Path) -> tuple[str, str]:
    """(file label, the sentence it must be named with) for one kind of damaged file, written into folder."""
    import gzip

    feeds = folder / "feeds"
    rows = [acled_row("BLR8", "2022-03-06", "2022-03-07", notes="Railway signal near Orsha cut.")]
    plain = write_acled(feeds / "scratch.csv", rows).read_bytes()
    (feeds / "scratch.csv").unlink()
    gdelt = "".join("\t".join(row) + "\n" for row in [gdelt_row("1009", "20220301", "20220301121500")]).encode()
    left = "; the file is left out"
    if kind == "gzip cut short":
        (feeds / "acled-cut.csv.gz").write_bytes(gzip.compress(plain)[:-30])
        return "feeds/acled-cut.csv.gz", ("is cut short (its gzip data ends before its end marker: an unfinished "
                                          "download?)" + left)
    if kind == "gzip damaged":
        blob = bytearray(gzip.compress(plain * 20))
        blob[len(blob) // 2] ^= 0xFF
        (feeds / "acled-bad.csv.gz").write_bytes(bytes(blob))
        return "feeds/acled-bad.csv.gz", "is damaged (its gzip data cannot be unpacked)" + left
    if kind == "not gzip":
        (feeds / "acled-plain.csv.gz").write_bytes(plain)
        return "feeds/acled-plain.csv.gz", "is not a gzip file, although its name ends in .gz" + left
    if kind == "parquet cut short":
        write_parquet(feeds / "acled-cut.parquet", rows)
        (feeds / "acled-cut.parquet").write_bytes((feeds / "acled-cut.parquet").read_bytes()[:-100])
        return "feeds/acled-cut.parquet", "is not a readable Parquet file (damaged, cut short, or not Parquet)" + left
    if kind == "parquet damaged inside":  # its footer reads, its data does not: only the engine finds out
        import pyarrow.parquet as pq

        path = write_parquet(feeds / "acled-damaged.parquet", rows)
        column = pq.read_metadata(path).row_group(0).column(0)
        blob = bytearray(path.read_bytes())
        blob[column.data_page_offset:column.data_page_offset + column.total_compressed_size] = \
            b"\xff" * column.total_compressed_size
        path.write_bytes(bytes(blob))
        return "feeds/acled-damaged.parquet", "the engine cannot read it: don't know what type: ?" + left
    zipped = feeds / "gdelt" / "20220304000000.export.CSV.zip"
    if kind == "encrypted zip":
        _zip_with(zipped, gdelt, flag_bits=0x1)
        return zipped.relative_to(folder).as_posix(), (
            "is encrypted (password-protected), and Watchfloor does not unpack encrypted zips: unpack it yourself or "
            "export it again without a password" + left)
    if kind == "deflate64 zip":
        _zip_with(zipped, gdelt, method=9)
        return zipped.relative_to(folder).as_posix(), (
            "is compressed with Deflate64, which Watchfloor cannot unpack: unpack it yourself or pack it again with "
            "ordinary Deflate" + left)
    if kind == "zip failing its checksum":
        import zipfile

        _zip_with(zipped, gdelt, compression=zipfile.ZIP_STORED)
        blob = zipped.read_bytes()
        zipped.write_bytes(blob.replace(b"20220301121500", b"20220301121501", 1))
        return zipped.relative_to(folder).as_posix(), "is damaged (its content fails the zip checksum)" + left
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["gzip cut short", "gzip damaged", "not gzip", "parquet cut short",
                                  "parquet damaged inside", "encrypted zip", "deflate64 zip", "zip failing its checksum"])
def test_a_damaged_or_unsupported_file_is_named_in_one_sentence_and_the_others_count(tmp_path, kind):
    folder = write_fixture_watchlist(tmp_path / "fed")
    label, sentence = _damaged(kind, folder)
    assert problems_of(folder) == sorted(FIXTURE_PROBLEMS + [f"{label}: file: {sentence}"])
    assert values_on(folder, dt.date(2022, 3, 7))["rail_sabotage"] == ("high", 3.0)  # BLR1-3, as without it
    assert values_on(folder, dt.date(2022, 3, 12))["rail_sabotage"] == ("high", 3.0)  # BLR2, BLR4 (.gz), BLR5 (.parquet)
    assert values_on(folder, dt.date(2022, 3, 2))["gdelt_force"] == ("elevated", 2.0)
    feed = "acled" if "acled" in label else "gdelt"
    assert load_watchlist(folder, today=TODAY).feeds[feed].files_left_out == [label]


TALLY_YAML = """\
title: Tallies
feeds:
  tally: {format: csv, path: "feeds/*.csv", columns: {date: day}}
indicators:
  - {id: reports, name: Reports, category: C, aggregate: count, window_days: 3650, thresholds: {elevated: 1},
     feed: {name: tally}}
"""


def tally_watchlist(folder: Path, names: list[str], rows_each: int = 1) -> Path:
    (folder / "feeds").mkdir(parents=True)
    (folder / "watchlist.yaml").write_text(TALLY_YAML)
    (folder / "observations.csv").write_text("date,indicator,value\n")
    for name in names:
        (folder / "feeds" / name).write_text("day,note\n" + "2022-03-01,x\n" * rows_each)
    return folder


def test_file_names_with_glob_characters_are_read_as_themselves(tmp_path):
    folder = tally_watchlist(tmp_path / "t", ["tally-1.csv", "tally-*.csv", "tally-?.csv", "tally-[1].csv",
                                              "tally-{1,2}.csv"])
    assert problems_of(folder) == []
    assert values_on(folder, dt.date(2022, 3, 2))["reports"] == ("elevated", 5.0)  # each file once


def test_column_names_with_quotes_and_spaces_are_read_as_themselves(tmp_path):
    folder = tmp_path / "q"
    (folder / "feeds").mkdir(parents=True)
    (folder / "watchlist.yaml").write_text(
        "title: Quotes\nfeeds:\n  tally: {format: csv, path: feeds/tally.csv, columns: {date: \"report's day\"}}\n"
        "indicators:\n  - {id: reports, name: Reports, category: C, aggregate: sum, window_days: 3650,\n"
        "     thresholds: {elevated: 1}, feed: {name: tally, value: 'the \"count\"', where: {\"it's\": 'y'}}}\n")
    (folder / "observations.csv").write_text("date,indicator,value\n")
    (folder / "feeds" / "tally.csv").write_text(
        '"report\'s day","the ""count""","it\'s"\n2022-03-01,4,y\n2022-03-01,5,n\n2022-03-02,2,y\n')
    assert problems_of(folder) == []
    assert values_on(folder, dt.date(2022, 3, 2))["reports"] == ("elevated", 6.0)


@pytest.mark.slow
def test_thousands_of_files_are_each_read_once_with_the_right_count(tmp_path):
    folder = tally_watchlist(tmp_path / "t", [f"day-{number:05d}.csv" for number in range(3000)], rows_each=2)
    loaded = load_watchlist(folder, today=TODAY)
    assert loaded.problems == []
    assert values_on(folder, dt.date(2022, 3, 2))["reports"] == ("elevated", 6000.0)
    assert loaded.feeds["tally"].describe().startswith("Feed tally: 3000 files (feeds/day-00000.csv, ")


def test_a_zip_that_unpacks_too_far_is_refused_by_ratio_or_size_with_the_file_named(tmp_path, monkeypatch):
    from indicators.feeds.files import scratch_folder

    folder = write_fixture_watchlist(tmp_path / "fed")
    bomb = folder / "feeds" / "gdelt" / "20220305000000.export.CSV.zip"
    _zip_with(bomb, b"\t" * (60 << 20))  # 60 MB of tabs in a zip of some 60 KB
    label = bomb.relative_to(folder).as_posix()
    size = bomb.stat().st_size
    assert problems_of(folder) == sorted(FIXTURE_PROBLEMS + [
        f"{label}: file: unpacks to more than 100 times its own size ({size / 1024:.0f} KB); an archive that expands "
        "this much is refused (set WATCHFLOOR_UNPACK_RATIO higher if the file is genuine); the file is left out"])
    assert values_on(folder, dt.date(2022, 3, 2))["gdelt_force"] == ("elevated", 2.0)
    monkeypatch.setenv("WATCHFLOOR_UNPACK_RATIO", "100000")
    monkeypatch.setenv("WATCHFLOOR_UNPACK_LIMIT", "2MB")
    assert problems_of(folder) == sorted(FIXTURE_PROBLEMS + [
        f"{label}: file: unpacks to more than 2 MB, the limit for one feed file (set WATCHFLOOR_UNPACK_LIMIT higher if "
        "the file is genuine); the file is left out"])
    assert [path for path in scratch_folder().rglob("*") if path.is_file()] == []  # nothing left in scratch


def test_an_acled_timestamp_cut_short_or_before_the_event_date_is_named_not_clamped(fed):
    write_acled(fed / "feeds" / "acled-late.csv", [
        acled_row("BLR8", "2022-03-15", "", notes="Railway relay burned.", timestamp="164735"),  # cut short
        acled_row("BLR9", "2022-03-15", "2022-03-10", notes="Rail line cut.")])  # uploaded before it happened
    why = "an event cannot be known before it happened (is the time cut short?); the row is left out"
    assert problems_of(fed) == sorted(FIXTURE_PROBLEMS + [
        f'feeds/acled-late.csv:2: timestamp: "164735" is 1970-01-02 (UTC), before the event\'s own date 2022-03-15; '
        f"{why}",
        f'feeds/acled-late.csv:3: timestamp: "{unix("2022-03-10")}" is 2022-03-10 (UTC), before the event\'s own date '
        f"2022-03-15; {why}"])
    assert "BLR8" not in set(load_watchlist(fed, today=TODAY).observations["event_id"])


def test_every_bad_row_of_a_deletions_file_is_named_with_its_line(fed):
    (fed / "feeds" / "acled-deletions.csv").write_bytes(
        b"event_id_cnty,deleted_timestamp\n"
        + f"BLR3,{unix('2022-03-08')}\n".encode()
        + f",{unix('2022-03-08')}\n".encode()
        + b"BLR2,soon\n"
        + b"BLR\xe92," + f"{unix('2022-03-08')}\n".encode())
    assert problems_of(fed) == sorted(FIXTURE_PROBLEMS + [
        "feeds/acled-deletions.csv:3: event_id_cnty: is empty; a deletion names the event it deletes; the deletion is "
        "left out",
        'feeds/acled-deletions.csv:4: deleted_timestamp: "soon" is not a Unix time in seconds; the deletion is left '
        "out",
        "feeds/acled-deletions.csv:5: encoding: is not UTF-8 here; the deletion is left out: save the file as UTF-8, "
        "or give the feed's encoding"])
    assert values_on(fed, dt.date(2022, 3, 8))["rail_sabotage"] == ("elevated", 2.0)  # BLR3's deletion still counts


def test_messages_about_a_linked_file_outside_the_folder_never_quote_it(tmp_path, fed):
    secret = "TOKEN=sk-live-4242"
    outside = tmp_path / "exports"
    outside.mkdir()
    write_acled(outside / "acled-linked.csv", [
        acled_row("BLR8", f"{secret}", "2022-03-07", notes="Railway"),
        acled_row("BLR9", "2022-03-06", "", notes="Railway", timestamp=secret)])
    with open(outside / "acled-linked.csv", "ab") as handle:
        handle.write(f"BLR10,{secret},caf\xe9\n".encode("latin-1"))
    (fed / "feeds" / "acled-linked.csv").symlink_to(outside / "acled-linked.csv")
    (outside / "deletions.csv").write_text(f"event_id_cnty,deleted_timestamp\nBLR1,{secret}\n")
    (fed / "feeds" / "acled-deletions.csv").unlink()
    (fed / "feeds" / "acled-deletions.csv").symlink_to(outside / "deletions.csv")
    problems = problems_of(fed)
    assert problems == sorted(FIXTURE_PROBLEMS + [
        "feeds/acled-deletions.csv:2: deleted_timestamp: is not a Unix time in seconds; the deletion is left out",
        "feeds/acled-linked.csv:2: event_date: is not a date; ACLED writes YYYY-MM-DD (also 16 May 2025 or 7-Feb-25); "
        "the row is left out",
        "feeds/acled-linked.csv:3: timestamp: is not an upload time; use Unix time in seconds; the row is left out",
        "feeds/acled-linked.csv:4: encoding: is not UTF-8 here; the line is read with U+FFFD in place of the bad bytes: "
        "save the file as UTF-8, or give the feed's encoding in watchlist.yaml (e.g. encoding: cp1252)",
        "feeds/acled-linked.csv:4: file: cannot be split into the header's columns; the row is left out (check quotes "
        "and delimiters on this line)"])
    assert not any("sk-live" in problem for problem in problems)
