"""The corpus of bad (and awkward) files under tests/bad_files, with the exact messages expected.

Each case folder holds the files of a watchlist (watchlist.yaml defaults to the shared one) and
``expected.txt``: the problems as ``validate`` prints them, one per line, with no folder prefix.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from helpers import FIXED_TODAY
from indicators.store.loader import load_watchlist

CORPUS = Path(__file__).parent / "bad_files"
CASES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


def load_case(name: str, tmp_path: Path):
    folder = tmp_path / name
    shutil.copytree(CORPUS / name, folder, ignore=shutil.ignore_patterns("expected.txt"))
    if not (folder / "watchlist.yaml").exists():
        shutil.copy(CORPUS / "watchlist.yaml", folder / "watchlist.yaml")
    return load_watchlist(folder, today=FIXED_TODAY)


@pytest.mark.parametrize("name", CASES)
def test_case_reports_exactly_the_expected_problems(name, tmp_path):
    expected = (CORPUS / name / "expected.txt").read_text(encoding="utf-8").splitlines()
    loaded = load_case(name, tmp_path)
    assert [problem.format() for problem in loaded.problems] == expected


@pytest.mark.parametrize("name", CASES)
def test_validation_never_changes_the_files(name, tmp_path):
    load_case(name, tmp_path)  # the copy is made here; now watch the folder that is loaded
    folder = tmp_path / name
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    load_watchlist(folder, today=FIXED_TODAY)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    assert before == after  # nor adds one: no lock, cache, unpacked zip or spill file


HEADER = "date,indicator,value,source,url,reliability,credibility,status,reported,note\n"


def write_observations(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "w"
    folder.mkdir()
    shutil.copy(CORPUS / "watchlist.yaml", folder / "watchlist.yaml")
    (folder / "observations.csv").write_text(HEADER + text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("bomb_line", [2, 4, 6])
def test_an_unclosed_quote_is_reported_where_it_opens_with_the_lines_it_would_swallow(bomb_line, tmp_path):
    rows = [f"2022-10-0{n},troops,{n}00,MoD,,,,,,note {n}" for n in range(1, 6)]  # lines 2-6
    rows[bomb_line - 2] = rows[bomb_line - 2].replace("note", '"never closed')
    loaded = load_watchlist(write_observations(tmp_path, "\n".join(rows) + "\n"), today=FIXED_TODAY)
    swallowed = 6 - bomb_line + 1
    assert [p.format() for p in loaded.problems] == [
        f"observations.csv:{bomb_line}: row: a quoted cell opens here and is never closed: lines {bomb_line}-6 "
        f"would be swallowed into it ({swallowed} lines); close the quote (write a quote inside a cell as two "
        "quotes)"]
    assert loaded.observations["line"].tolist() == list(range(2, bomb_line))  # only the rows before it


def test_a_ten_megabyte_note_is_read(tmp_path):
    note = "x" * 10_000_000
    loaded = load_watchlist(write_observations(tmp_path, f'2022-10-01,troops,100,MoD,,,,,,"{note}"\n'
                                                         '2022-10-02,troops,200,MoD,,,,,,"two\nlines"\n'),
                            today=FIXED_TODAY)
    assert loaded.problems == []
    assert loaded.observations["note"].str.len().tolist() == [10_000_000, 9]


def test_a_header_with_100000_columns_loads_in_linear_time(tmp_path):
    extra = [f"extra{i}" for i in range(100_000)]
    folder = write_observations(tmp_path, "")
    (folder / "observations.csv").write_text(
        HEADER.rstrip("\n") + "," + ",".join(extra) + "\n" + "2022-10-01,troops,100,MoD,,,,,," + "," * 100_000 + "\n",
        encoding="utf-8")
    started = time.perf_counter()
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert time.perf_counter() - started < 10  # a quadratic header check took minutes
    assert loaded.problems == [] and loaded.observations["value"].tolist() == [100]


def test_problems_carry_file_line_field_and_code(tmp_path):
    loaded = load_case("bad_values", tmp_path)
    flattened = [(p.file, p.line, p.field, p.code) for p in loaded.problems]
    assert flattened == [
        ("observations.csv", 2, "value", "not_a_number"),
        ("observations.csv", 3, "value", "not_a_number"),
        ("observations.csv", 4, "value", "empty"),
        ("observations.csv", 5, "value", "not_a_number"),
        ("observations.csv", 6, "value", "not_on_scale"),
        ("observations.csv", 8, "value", "not_finite"),
    ]


def test_valid_rows_still_load_beside_bad_ones(tmp_path):
    loaded = load_case("bad_values", tmp_path)
    # the count indicator may leave value empty: that row is the one valid row
    assert loaded.observations[["line", "indicator"]].astype(str).values.tolist() == [["7", "incidents"]]
    assert loaded.total_observation_rows == 7


def test_excel_file_with_bom_crlf_spaces_and_multiline_note_reads_clean(tmp_path):
    loaded = load_case("excel_friendly", tmp_path)
    rows = loaded.observations
    assert rows["value"].tolist() == [9000.0, 1.0]
    assert rows["status"].tolist() == ["reported", "reported"]
    assert rows["note"].tolist() == ["spaces around", "multi\r\nline"]
    assert rows["line"].tolist() == [2, 3]


def test_semicolon_file_from_dutch_excel_is_read_with_its_quoted_semicolons(tmp_path):
    loaded = load_case("semicolon_excel", tmp_path)
    assert loaded.observations["note"].tolist() == ["Revenko; a little less than 9,000"]
    assert loaded.observations["value"].tolist() == [9000.0]


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    import tracemalloc

    tracemalloc.start()
    try:
        loaded = load_case("yaml_alias_bomb", tmp_path)  # 402 bytes; expanded: a billion strings
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [p.code for p in loaded.problems] == ["yaml_alias"] and loaded.watchlist is None
    assert peak < 20_000_000  # bytes; expanding it took gigabytes and ended in MemoryError


def test_a_later_duplicate_key_never_replaces_the_first(tmp_path):
    loaded = load_case("yaml_duplicate_key", tmp_path)
    assert loaded.watchlist is None  # not opened with the lower marking


def test_an_as_of_date_after_today_is_refused_and_the_watchlist_opens_as_of_today(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    text = (CORPUS / "watchlist.yaml").read_text(encoding="utf-8")
    (folder / "watchlist.yaml").write_text(text.replace('marking: "TEST"\n', 'marking: "TEST"\nas_of: 9999-12-31\n'),
                                           encoding="utf-8")
    (folder / "observations.csv").write_text(HEADER, encoding="utf-8")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert [p.format() for p in loaded.problems] == [
        "watchlist.yaml:3: as_of: 9999-12-31 is after today (2026-01-01); the as-of date must be a day already known "
        "(check the year)"]
    assert loaded.watchlist.as_of is None
