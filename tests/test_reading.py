"""Reading a large watchlist quickly changes nothing. A command begins reading the rows files while it
is still importing the library, and the loader uses such a read only if the file is still the one that
was read. The columns whose values repeat come from pyarrow as categories, across all of its blocks,
and check exactly as text."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest

from helpers import DEFAULT_WATCHLIST, FIXED_TODAY, indicator, write_watchlist
from indicators.format import csvfile
from indicators.format.definitions import load_definitions
from indicators.format.folder import ROWS_FILES
from indicators.format.validation import check_observations
from indicators.store import cache, loader, readahead
from indicators.store.loader import load_watchlist


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv(cache.NO_CACHE_VARIABLE, "1")


def assert_same_watchlist(read, truth) -> None:
    for name in ("observations", "events", "judgments"):
        pd.testing.assert_frame_equal(getattr(read, name), getattr(truth, name))
    assert read.problems == truth.problems
    assert (read.total_observation_rows, read.total_event_rows, read.total_judgment_rows) == \
           (truth.total_observation_rows, truth.total_event_rows, truth.total_judgment_rows)
    assert read.snapshots == truth.snapshots


def rows_files(folder) -> list[str]:
    return [name for name in ROWS_FILES if (folder / name).is_file()]


def test_a_read_begun_ahead_is_what_the_loader_takes(tmp_path, monkeypatch, no_cache):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    truth = load_watchlist(folder, today=FIXED_TODAY)
    readahead.read_ahead(folder, today=FIXED_TODAY)

    def read_again(*arguments):
        raise AssertionError(f"{arguments[1]} was read again, not taken from the read begun ahead")

    monkeypatch.setattr(loader, "read_csv_table", read_again)
    assert_same_watchlist(load_watchlist(folder, today=FIXED_TODAY), truth)


def test_a_file_changed_after_its_read_began_is_read_again(tmp_path, monkeypatch, no_cache):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    finished = []
    read = csvfile._read

    def read_and_say_so(*arguments):
        result = read(*arguments)
        finished.append(arguments[1])
        return result

    monkeypatch.setattr(csvfile, "_read", read_and_say_so)
    readahead.read_ahead(folder, today=FIXED_TODAY)
    deadline = time.monotonic() + 60
    while len(finished) < len(rows_files(folder)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(finished) == sorted(rows_files(folder))  # the old content has been read
    with (folder / "observations.csv").open("a", encoding="utf-8") as file:
        file.write("2022-02-01,russian_troops_in_belarus,31000,Appended after the read began,,B,2,,,,\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert "Appended after the read began" in set(loaded.observations["source"])
    assert_same_watchlist(loaded, load_watchlist(folder, today=FIXED_TODAY))


def test_nothing_the_cache_holds_is_read_ahead(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.delenv(cache.NO_CACHE_VARIABLE, raising=False)
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    begun = []
    monkeypatch.setattr(readahead, "PendingTable", lambda path, *layout: begun.append(path.name))
    readahead.read_ahead(folder, today=FIXED_TODAY)
    assert sorted(begun) == sorted(rows_files(folder))  # a cold cache: every rows file
    load_watchlist(folder, today=FIXED_TODAY)
    cache.settle()
    begun.clear()
    readahead.read_ahead(folder, today=FIXED_TODAY)
    assert begun == []


def test_a_large_files_categories_hold_across_pyarrows_blocks(tmp_path):
    """pyarrow parses a file in blocks of 1 MiB, each with its own dictionary per column; the rows of
    every block keep their own dates, ids and grades."""
    rows = 20_000  # (as many as it takes to check the columns on threads too)
    lines = [f"2022-{1 + n * 12 // rows:02d}-{1 + n % 28:02d},{'troops' if n < rows // 2 else 'n'},{n % 97},"
             f"Source {n % 13},,{'ABCDEF'[n * 6 // rows]},{1 + n % 6},{'' if n % 5 else 'disputed'},,"
             f"note {n:06d} {'.' * 80}\n" for n in range(rows)]
    folder = write_watchlist(tmp_path / "w", [indicator(), indicator("n", aggregate="count", window_days=7)],
                             "".join(lines))
    path = folder / "observations.csv"
    assert path.stat().st_size > 2 * 2**20  # three blocks or more
    definitions = load_definitions(folder, FIXED_TODAY)
    as_categories = csvfile.read_csv_table(path, "observations.csv", *ROWS_FILES["observations.csv"])
    as_text = csvfile.read_csv_table(path, "observations.csv", *ROWS_FILES["observations.csv"][:2])
    assert isinstance(as_categories.frame["indicator"].dtype, pd.CategoricalDtype)
    typed, problems = check_observations(as_categories.frame, definitions.watchlist, set(), FIXED_TODAY)
    expected = check_observations(as_text.frame, definitions.watchlist, set(), FIXED_TODAY)
    pd.testing.assert_frame_equal(typed, expected[0])
    assert problems == expected[1]
    assert len(typed) == rows, problems[:3]
    assert list(typed["indicator"].iloc[[0, -1]]) == ["troops", "n"]
    assert list(typed["reliability"].iloc[[0, -1]]) == ["A", "F"]


def test_a_file_that_cannot_be_looked_at_is_left_to_the_loader(tmp_path, monkeypatch, no_cache):
    """Reading ahead never raises: a file it may not look at is left for the loader to read and report."""
    from pathlib import Path

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    is_file = Path.is_file

    def refused(path):
        if path.name == "observations.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return is_file(path)

    begun, others = [], sorted(set(rows_files(folder)) - {"observations.csv"})
    monkeypatch.setattr(Path, "is_file", refused)
    monkeypatch.setattr(readahead, "PendingTable", lambda path, *layout: begun.append(path.name))
    readahead.read_ahead(folder, today=FIXED_TODAY)
    assert sorted(begun) == others
