"""The corpus of bad (and awkward) files under tests/bad_files, with the exact messages expected.

Each case folder holds the files of a watchlist (watchlist.yaml defaults to the shared one) and
``expected.txt``: the problems as ``validate`` prints them, one per line, with no folder prefix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import FIXED_TODAY
from indicators.loader import load_watchlist

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
    before = {p.name: p.read_bytes() for p in (CORPUS / name).iterdir()}
    load_case(name, tmp_path)
    after = {p.name: p.read_bytes() for p in (CORPUS / name).iterdir()}
    assert before == after


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
