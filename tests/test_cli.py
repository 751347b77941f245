"""The watchfloor command: exit codes, output shapes, and never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from helpers import DEFAULT_WATCHLIST, REPO, indicator, write_watchlist
from indicators.cli import app, main

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_default_watchlist_is_clean():
    result = run("validate", DEFAULT_WATCHLIST)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{DEFAULT_WATCHLIST}: no problems; ")


def test_validate_prints_path_line_field_message_and_exits_1(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,about 9000,,,,,,,\n")
    result = run("validate", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f'{folder}/observations.csv:2: value: "about 9000" is not a number; write digits only, with . for decimals '
        "(put remarks in the note column)",
        f"{folder}: 1 problem in observations.csv; 0 of 1 observations and 0 of 0 events valid "
        "(1 observation left out of evaluation)",
    ]


def test_validate_json_lists_problems_as_data(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,trops,5,,,,,,,\n")
    result = run("validate", folder, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert [(p["file"], p["line"], p["field"], p["code"]) for p in document["problems"]] == [
        ("observations.csv", 2, "indicator", "unknown_indicator")]


@pytest.mark.parametrize("command", ["validate", "status"])
def test_missing_folder_is_a_usage_error(tmp_path, command):
    result = run(command, tmp_path / "nope")
    assert result.exit_code == 2
    assert "is not a folder; give the path of a watchlist folder" in result.stderr


def test_bad_as_of_is_a_usage_error():
    result = run("status", DEFAULT_WATCHLIST, "--as-of", "17-10-2022")
    assert result.exit_code == 2
    assert 'Error: --as-of "17-10-2022" is not a date; use YYYY-MM-DD, e.g. 2022-10-17' in result.stderr


def test_status_json_has_the_documented_shape():
    result = run("status", DEFAULT_WATCHLIST, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["watchlist", "as_of", "overall", "scenarios", "indicators"]
    assert document["as_of"] == "2022-10-17"
    assert {"level", "index", "current", "total"} <= set(document["overall"])
    for item in document["indicators"]:
        assert {"id", "name", "category", "level", "value", "label", "unit", "date", "age_days", "stale"} <= set(item)
        assert item["level"] in {"normal", "elevated", "high", "critical", "no_data"}
        assert item["value"] is None or isinstance(item["value"], (int, float))


def test_status_table_shows_levels_as_words():
    result = run("status", DEFAULT_WATCHLIST, "--as-of", "2022-10-17")
    lines = result.stdout.splitlines()
    assert lines[0] == "Belarus: a second front against Ukraine? - status as of 2022-10-17"
    row = next(line for line in lines if line.startswith("Mobilization reports"))  # named, not by id
    assert re.split(r"\s{2,}", row)[:4] == ["Mobilization reports", "HIGH", "3 reports in the last 30 days",
                                             "2022-10-16"]
    assert "Stale: Russian troops present in Belarus" in lines


def test_help_texts_are_shown_literally():
    result = run("serve", "--help")
    assert "A secrets file with an [auth] section" in " ".join(result.stdout.split())


def test_status_works_on_a_watchlist_with_problems_and_says_so_on_stderr(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,25,,,,,,,\n2022-10-17,troops,x,,,,,,,\n")
    result = run("status", folder, "--as-of", "2022-10-17", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["indicators"][0]["value"] == 25
    assert result.stderr == (f"{folder}: 1 problem in observations.csv; the status uses the valid rows only "
                             f"(see: watchfloor validate {folder})\n")


@pytest.mark.parametrize("command", [["status"], ["history"], ["backtest", "--target", "2022-02-24"]])
def test_unusable_definitions_exit_1_without_traceback(tmp_path, command):
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "watchlist.yaml").write_text("title: [\n")
    (folder / "observations.csv").write_text("date,indicator,value\n")
    result = run(command[0], folder, *command[1:])
    assert result.exit_code == 1
    assert "watchlist.yaml cannot be used" in result.stderr
    assert "Traceback" not in result.output


def test_init_creates_a_watchlist_that_validates(tmp_path):
    folder = tmp_path / "new"
    result = run("init", folder, "--title", 'Sahel "watch"')
    assert result.exit_code == 0, result.output
    assert run("validate", folder).exit_code == 0
    assert "# Watchfloor watchlist." in (folder / "watchlist.yaml").read_text()
    assert (folder / ".gitignore").read_text().splitlines() == [".history/", ".*.lock", ".*.tmp", ".watchfloor/"]
    status = json.loads(run("status", folder, "--json").stdout)
    assert status["watchlist"] == 'Sahel "watch"'


def test_init_refuses_to_overwrite(tmp_path):
    folder = tmp_path / "new"
    run("init", folder, "--title", "A")
    result = run("init", folder, "--title", "B")
    assert result.exit_code == 2
    assert "already exists; choose a new folder" in result.stderr


def test_every_command_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        assert f"watchfloor {name}" in readme, name


def test_cli_does_not_import_streamlit_or_plotly():
    code = ("import sys; from indicators.cli import app; from typer.testing import CliRunner; "
            f"CliRunner().invoke(app, ['status', {str(DEFAULT_WATCHLIST)!r}]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02", b"date\n", "d\u00e9j\u00e0".encode("latin-1"),
                                     b'"unclosed,quote\n1,2', b"date,indicator,value\n" + b"2022-10-10,x,1\n" * 3,
                                     b"- just\n- a list\n", b"title: T\nindicators: 5\n",
                                     b"title: {a: 1}\nas_of: [1, 2]\nindicators:\n  - id: x\n    name: X\n"
                                     b"    category: C\n    thresholds: {elevated: abc}\n    levels: {a: b}\n"
                                     b"    window_days: 1.5\n    aggregate: sum\n",
                                     b"title: T\nas_of: 2022-02-30\nindicators:\n  - 7\n  - null\n"])
@pytest.mark.parametrize("target", ["observations.csv", "watchlist.yaml", "events.csv"])
def test_no_input_makes_the_cli_print_a_traceback(tmp_path, content, target, capsys, monkeypatch):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,25,,,,,,,\n")
    (folder / target).write_bytes(content)
    for command in (["validate", folder], ["status", folder], ["validate", folder, "--json"]):
        monkeypatch.setattr(sys, "argv", ["watchfloor", *map(str, command)])
        with pytest.raises(SystemExit) as exited:
            main()
        output = capsys.readouterr()
        assert "Traceback" not in output.out + output.err
        assert "This is a bug in Watchfloor" not in output.err
        assert exited.value.code in (0, 1)


def test_terminal_controls_from_data_are_shown_escaped_never_sent_raw(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()],
                             "2022-10-01,troops,100,\x1b[2JEvil\u202e,,,,,,\x1b]0;pwned\x07\n"
                             "2022-10-0\x1b[31m2,troops,100,MoD,,,,,,\n")
    validated = run("validate", folder)
    assert validated.stdout.splitlines()[0] == (
        f'{folder}/observations.csv:3: date: "2022-10-0\\x1b[31m2" is not a date; use YYYY-MM-DD, e.g. 2022-10-16')
    status = run("status", folder, "--as-of", "2022-10-05", "--json")
    assert json.loads(status.stdout)["indicators"][0]["source"] == "\x1b[2JEvil\u202e"  # the same JSON ...
    assert "\x1b" not in status.stdout and "\u202e" not in status.stdout  # ... with nothing a terminal acts on
    for result in (validated, status, run("status", folder, "--as-of", "2022-10-05")):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", result.output)


def test_a_folder_where_a_file_should_be_is_named_in_plain_words(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "")
    (folder / "observations.csv").unlink()
    (folder / "observations.csv").mkdir()
    result = run("validate", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{folder}/observations.csv: file: observations.csv is a folder, not a file; it must be a CSV file with "
        "the header line: date,indicator,value,source,url,reliability,credibility,status,reported,note")
