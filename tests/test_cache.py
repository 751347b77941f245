"""The derived cache: it makes later reads cheap and can never change an answer, whatever happens to
the files (an edit, an append, a touch, a same-size rewrite with its time put back, a replaced feed
file, a changed where) or to the cache itself (a damaged, foreign or half-written entry)."""

from __future__ import annotations

import os

import pandas
import shutil
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feed_fixtures import acled_row, write_acled, write_fixture_watchlist
from helpers import DEFAULT_WATCHLIST
from indicators.cli import app
from indicators.store import cache

runner = CliRunner()
PINNED = "2026-01-02T03:04:05"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(folder))
    monkeypatch.delenv(cache.NO_CACHE_VARIABLE, raising=False)
    return folder


def answers(folder: Path, as_of: str, only: tuple[str, ...] = ()) -> dict[str, str]:
    """Everything a user reads about the watchlist (or ``only`` these commands' answers), each command
    run as by a fresh process: nothing kept in this process's memory from one to the next (only the
    derived cache on disk)."""
    from indicators.feeds import query as feeds
    commands = {"status": ["status", folder, "--as-of", as_of, "--json"],
                "history": ["history", folder, "--to", as_of, "--csv"],
                "validate": ["validate", folder, "--json"],
                "briefing": ["snapshot", folder, "--out", folder.parent / "briefing.html", "--made-at", PINNED,
                             "--as-of", as_of]}
    if (folder / "judgments.csv").exists():
        commands["backtest"] = ["backtest", folder, "--scenario", "offensive_from_belarus", "--robustness", "--json"]
    result = {}
    for name, arguments in commands.items():
        if only and name not in only:
            continue
        feeds._results.clear()  # the feed results a process keeps in memory
        done = runner.invoke(app, [str(argument) for argument in arguments])
        result[name] = done.stdout + done.stderr
        if name == "briefing":
            result[name] = (folder.parent / "briefing.html").read_text()
    return result


def uncached(folder: Path, as_of: str) -> dict[str, str]:
    os.environ[cache.NO_CACHE_VARIABLE] = "1"
    try:
        return answers(folder, as_of)
    finally:
        del os.environ[cache.NO_CACHE_VARIABLE]


def entries(cache_dir: Path) -> list[Path]:
    return sorted([*cache_dir.rglob("*.arrow"), *cache_dir.rglob("answer-*.json")])


def test_the_bundled_watchlist_reads_the_same_with_and_without_the_cache(cache_dir, tmp_path):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    truth = uncached(folder, "2022-10-17")
    assert not entries(cache_dir)  # --no-cache neither reads nor fills it
    cold = answers(folder, "2022-10-17")
    made = entries(cache_dir)
    assert {path.name.split("-")[0] for path in made} >= {"observations.csv", "events.csv", "judgments.csv",
                                                           "answer"}
    warm = answers(folder, "2022-10-17")
    assert cold == truth and warm == truth
    assert entries(cache_dir) == made  # a warm read writes nothing


def change_a_line(folder: Path) -> None:
    path = folder / "observations.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",B,", ",C,", 1) if ",B," in lines[3] else lines[3].replace(",C,", ",B,", 1)
    path.write_text("".join(lines))


def append_a_row(folder: Path) -> None:
    with (folder / "observations.csv").open("a") as file:
        file.write("2022-10-16,russian_troops_in_belarus,31000,Test,,B,2,,,appended\n")


def touch(folder: Path) -> None:
    os.utime(folder / "events.csv")


def same_size_rewrite_with_time_put_back(folder: Path) -> None:
    path = folder / "observations.csv"
    stat = path.stat()
    text = path.read_text()
    position = text.index("30000")  # a digit changed in the middle: same size
    path.write_text(text[:position] + "29000" + text[position + 5:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("change", [change_a_line, append_a_row, touch, same_size_rewrite_with_time_put_back])
def test_after_each_kind_of_file_change_the_cache_gives_what_the_files_say(cache_dir, tmp_path, change):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    answers(folder, "2022-02-20")  # fill the cache
    change(folder)
    assert answers(folder, "2022-02-20") == uncached(folder, "2022-02-20")


def replace_a_feed_file(folder: Path) -> None:
    write_acled(folder / "feeds" / "acled-2022.csv", [
        acled_row("BLR1", "2022-03-01", "2022-03-02", notes="Partisans burned a relay cabinet on the railway."),
        acled_row("BLR7", "2022-03-02", "2022-03-03", notes="Rail line near Orsha blown up.")])


def append_a_feed_file(folder: Path) -> None:
    write_acled(folder / "feeds" / "acled-2022-late.csv", [
        acled_row("BLR8", "2022-03-05", "2022-03-06", notes="Railway relay burned near Zhlobin.")])


def change_a_where(folder: Path) -> None:
    path = folder / "watchlist.yaml"
    path.write_text(path.read_text().replace("contains: [railway, rail line]", "contains: [relay]", 1))


def test_feed_results_read_the_same_with_and_without_the_cache(cache_dir, tmp_path):
    folder = write_fixture_watchlist(tmp_path / "fed")
    assert answers(folder, "2022-03-20") == uncached(folder, "2022-03-20")


@pytest.mark.parametrize("change", [replace_a_feed_file, append_a_feed_file, change_a_where])
def test_feed_results_follow_their_files_and_their_where(cache_dir, tmp_path, change):
    folder = write_fixture_watchlist(tmp_path / "fed")
    # status fills every entry the other commands read (the feeds' rows, the observations) and its answer;
    # the test above shows that all of them read the same as without the cache
    before = answers(folder, "2022-03-20", only=("status",))
    change(folder)
    after = answers(folder, "2022-03-20")
    assert after == uncached(folder, "2022-03-20") and after["status"] != before["status"]


@pytest.mark.parametrize("damage", ["garbage", "cut", "foreign"])
def test_a_damaged_or_foreign_entry_is_never_trusted(cache_dir, tmp_path, damage):
    folder, other = tmp_path / "belarus", tmp_path / "other"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    truth = answers(folder, "2022-10-17")
    (entry,) = [path for path in entries(cache_dir) if path.name.startswith("observations.csv")]
    for answer in cache_dir.rglob("answer-*.json"):
        answer.unlink()  # the status is worked out again, from the damaged entry
    if damage == "garbage":
        entry.write_bytes(b"not an arrow file")
    elif damage == "cut":  # as a killed writer would leave it, had it written in place
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    else:  # an entry made for other files, put where this folder's entry is looked for
        shutil.copytree(DEFAULT_WATCHLIST, other)
        (other / "observations.csv").write_text((other / "observations.csv").read_text().replace("30000", "3"))
        answers(other, "2022-10-17")
        made_for_other = next(path for path in entries(cache_dir) if path.name.startswith("observations.csv")
                              and path.parent != entry.parent)
        shutil.copy(made_for_other, entry)
    assert answers(folder, "2022-10-17") == truth


def test_a_read_writes_nothing_into_the_watchlist_folder_and_a_read_only_one_works(cache_dir, tmp_path):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    before = sorted(path.relative_to(folder) for path in folder.rglob("*"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        truth = uncached(folder, "2022-10-17")
        assert answers(folder, "2022-10-17") == truth == answers(folder, "2022-10-17")
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert sorted(path.relative_to(folder) for path in folder.rglob("*")) == before
    assert entries(cache_dir) and all(cache_dir in path.parents for path in entries(cache_dir))


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(blocked / "cache"))
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    assert answers(folder, "2022-10-17") == uncached(folder, "2022-10-17")


def test_cache_info_and_clear(cache_dir, tmp_path):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    answers(folder, "2022-10-17")
    shown = runner.invoke(app, ["cache", "--info"]).stdout.splitlines()
    assert shown[0] == f"cache: {cache_dir}"
    assert shown[1].startswith(f"  {folder.resolve()}: 4 entries, ")  # three tables and the status's answer
    assert runner.invoke(app, ["cache", "--clear"]).stdout.strip() == f"removed 4 entries from {cache_dir}"
    assert not entries(cache_dir)
    assert runner.invoke(app, ["cache"]).stderr.strip() == "Error: give --info or --clear"


def test_an_export_dropped_beside_the_others_is_the_only_file_read_again(cache_dir, tmp_path, monkeypatch):
    from indicators.feeds import query as feeds
    from indicators.store.loader import load_watchlist

    folder = write_fixture_watchlist(tmp_path / "fed")
    load_watchlist(folder)  # fill the cache
    read = []
    real = feeds.prepare_file
    monkeypatch.setattr(feeds, "prepare_file", lambda file, *rest: read.append(file.label) or real(file, *rest))
    append_a_feed_file(folder)
    feeds._results.clear()
    again = load_watchlist(folder)
    assert read == ["feeds/acled-2022-late.csv"]
    monkeypatch.setenv(cache.NO_CACHE_VARIABLE, "1")
    feeds._results.clear()
    pandas.testing.assert_frame_equal(again.observations, load_watchlist(folder).observations)  # the whole feed
    assert len(read) > 2


def test_each_kind_keeps_its_three_newest_entries_and_never_touches_another_kinds(cache_dir, tmp_path):
    import pyarrow

    folder = tmp_path / "w"
    folder.mkdir()
    kinds = ("feed-a", "feed-a-b")  # feeds named a and a-b: one kind's name begins the other's
    for version in range(5):
        for kind in kinds:
            cache.store(folder, kind, {"version": version}, pyarrow.table({"n": [version]}), {})
            entry = cache._entry_path(folder, kind, {"version": version})
            os.utime(entry, ns=(version * 10**9, version * 10**9))  # written in this order, whatever the clock
    kept = {kind: [version for version in range(5) if cache.load(folder, kind, {"version": version})]
            for kind in kinds}
    assert kept == {"feed-a": [2, 3, 4], "feed-a-b": [2, 3, 4]}


@pytest.fixture
def slow_disk(monkeypatch):
    """Cache entries take half a second to write (they are written on a thread while the caller goes on)."""
    import time

    real = cache.store
    monkeypatch.setattr(cache, "store", lambda *arguments: time.sleep(0.5) or real(*arguments))


def test_a_command_is_done_only_when_the_entries_it_started_are_written(cache_dir, tmp_path, slow_disk):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 0
    assert {path.name.split("-")[0] for path in entries(cache_dir)} == {"observations.csv", "events.csv",
                                                                         "judgments.csv"}
    assert not list(cache_dir.rglob("*.tmp"))


def test_a_second_read_in_the_same_process_finds_the_entry_the_first_is_still_writing(cache_dir, tmp_path,
                                                                                      slow_disk, monkeypatch):
    from indicators.store import loader

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    first = loader.load_watchlist(folder)
    parsed = []
    real = loader.read_csv_table
    monkeypatch.setattr(loader, "read_csv_table", lambda path, *rest: parsed.append(path.name) or real(path, *rest))
    again = loader.load_watchlist(folder)
    assert parsed == []  # every file from the entries, none parsed again
    pandas.testing.assert_frame_equal(again.observations, first.observations)


def test_reading_the_other_files_does_not_wait_for_an_entry_still_being_written(cache_dir, tmp_path, monkeypatch):
    from indicators.store import loader

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    release = threading.Event()
    real = cache.store
    monkeypatch.setattr(cache, "store", lambda *arguments: release.wait(60) and real(*arguments))
    threading.Timer(20, release.set).start()  # a load that waited for the entries would return only then
    loaded = loader.load_watchlist(folder)
    returned_while_writing = not release.is_set()
    release.set()
    cache.settle()
    assert returned_while_writing
    assert len(loaded.observations) and len(loaded.events) and len(loaded.judgments)
    assert {path.name.split("-")[0] for path in entries(cache_dir)} == {"observations.csv", "events.csv",
                                                                         "judgments.csv"}


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """The watchlist folders the status command reads (it reads none when it answers from memory)."""
    from indicators.store import loader

    folders = []
    real = loader.load_watchlist
    monkeypatch.setattr(loader, "load_watchlist", lambda folder, *rest, **named: folders.append(folder)
                        or real(folder, *rest, **named))
    return folders


def status(folder: Path, *options: str) -> str:
    done = runner.invoke(app, ["status", str(folder), *options])
    assert done.exit_code == 0, done.output
    return done.stdout + done.stderr


def test_a_status_asked_again_on_unchanged_files_is_answered_from_memory(cache_dir, tmp_path, reads,
                                                                         monkeypatch):
    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    first = status(folder, "--as-of", "2022-02-20")
    assert status(folder, "--as-of", "2022-02-20") == first and len(reads) == 1
    status(folder, "--as-of", "2022-02-21")  # another date, another question
    status(folder, "--as-of", "2022-02-20", "--json")  # another form
    assert len(reads) == 3
    os.utime(folder / "places.csv")  # any file of the folder, even one the status does not use
    assert status(folder, "--as-of", "2022-02-20") == first and len(reads) == 4
    (folder / "notes.txt").write_text("a new file")
    status(folder, "--as-of", "2022-02-20")
    monkeypatch.setenv("WATCHFLOOR_UNPACK_RATIO", "50")  # a setting that can change an answer
    status(folder, "--as-of", "2022-02-20")
    assert len(reads) == 6
    assert status(folder, "--as-of", "2022-02-20") == first and len(reads) == 6
    monkeypatch.setenv(cache.NO_CACHE_VARIABLE, "1")
    assert status(folder, "--as-of", "2022-02-20") == first and len(reads) == 7


def test_an_answer_worked_out_while_a_file_changed_is_not_kept(cache_dir, tmp_path, reads, monkeypatch):
    from indicators.engine import rules

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    real = rules.evaluate_watchlist

    def evaluate_while_a_row_is_added(*arguments):
        append_a_row(folder)  # an analyst saves the file between the read and the answer
        return real(*arguments)

    monkeypatch.setattr(rules, "evaluate_watchlist", evaluate_while_a_row_is_added)
    status(folder, "--as-of", "2022-10-17")
    monkeypatch.setattr(rules, "evaluate_watchlist", real)
    assert not list(cache_dir.rglob("answer-*.json"))
    again = status(folder, "--as-of", "2022-10-17")  # read again: the appended row counts
    assert len(reads) == 2 and list(cache_dir.rglob("answer-*.json"))
    monkeypatch.setenv(cache.NO_CACHE_VARIABLE, "1")
    assert again == status(folder, "--as-of", "2022-10-17")


@pytest.mark.parametrize("damage", ["garbage", "foreign"])
def test_a_damaged_or_foreign_answer_is_never_trusted(cache_dir, tmp_path, reads, damage):
    folder, other = tmp_path / "belarus", tmp_path / "other"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    truth = status(folder, "--as-of", "2022-10-17")
    (answer,) = cache_dir.rglob("answer-*.json")
    if damage == "garbage":
        answer.write_text('{"key": "not json')
    else:  # the answer of a folder with other numbers, put where this folder's answer is looked for
        shutil.copytree(DEFAULT_WATCHLIST, other)
        (other / "observations.csv").write_text((other / "observations.csv").read_text().replace("30000", "3"))
        assert status(other, "--as-of", "2022-10-17") != truth
        (made_for_other,) = [path for path in cache_dir.rglob("answer-*.json") if path.parent != answer.parent]
        shutil.copy(made_for_other, answer)
    assert status(folder, "--as-of", "2022-10-17") == truth
    assert len(reads) == {"garbage": 2, "foreign": 3}[damage]  # read again, never answered from the entry


def test_a_folder_of_too_many_files_is_not_remembered(cache_dir, tmp_path, reads, monkeypatch):
    from indicators.store import answers as remembered

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    monkeypatch.setattr(remembered, "MAX_FILES", len(list(folder.iterdir())) - 1)
    assert status(folder, "--as-of", "2022-10-17") == status(folder, "--as-of", "2022-10-17")
    assert len(reads) == 2 and not list(cache_dir.rglob("answer-*.json"))


def test_a_remembered_status_does_not_import_pandas(cache_dir, tmp_path):
    """What makes a second status quick: no pandas, no Arrow, no model of the format, no row read (only a
    walk of the folder)."""
    import subprocess
    import sys

    folder = tmp_path / "belarus"
    shutil.copytree(DEFAULT_WATCHLIST, folder)
    code = ("import sys\nfrom indicators.cli import main\nsys.argv = ['watchfloor', 'status', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(name for name in ('pandas', 'pyarrow', 'indicators.format.models') if name in sys.modules))")
    environment = {**os.environ, cache.CACHE_VARIABLE: str(cache_dir)}
    runs = [subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True,
                           env=environment).stdout for _ in range(2)]
    assert runs[0].splitlines()[-1] == "['indicators.format.models', 'pandas', 'pyarrow']"
    assert runs[1].splitlines()[-1] == "[]"
    assert runs[0].splitlines()[:-1] == runs[1].splitlines()[:-1]
