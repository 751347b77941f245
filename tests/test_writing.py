"""Writes never lose or reformat a row: appends, edits, locks, atomic replace, refused stale writes."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from helpers import FIXED_TODAY, OBSERVATION_HEADER, REPO, indicator, write_watchlist
from indicators.cli import app
from indicators.store.loader import load_watchlist
from indicators.store.snapshot import FileSnapshot
from indicators.store.writing import RowRejected, WriteRefused, append_event, append_observation, edit_observation

ROW = {"date": "2022-10-16", "indicator": "troops", "value": "12", "source": "MoD"}


def watchlist(tmp_path, observations="2022-10-01,troops,5,A,,,,,,\n"):
    return write_watchlist(tmp_path / "w", [indicator(), indicator("n", aggregate="count", window_days=30)],
                           observations)


def test_append_adds_one_line_and_keeps_every_old_byte(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    line = append_observation(folder, {**ROW, "note": 'said "about, 12"'}, today=FIXED_TODAY)
    after = (folder / "observations.csv").read_bytes()
    assert line == '2022-10-16,troops,12,MoD,,,,,,"said ""about, 12"""\n'
    assert after == before + line.encode()
    assert load_watchlist(folder, today=FIXED_TODAY).problems == []


def test_crlf_file_with_bom_keeps_both_and_its_own_column_order(tmp_path):
    folder = watchlist(tmp_path)
    content = "\ufeffindicator;date;value;note;extra\r\ntroops;2022-10-01;5;\"a; b\";x\r\n".encode()
    (folder / "observations.csv").write_bytes(content)
    append_observation(folder, {**ROW, "source": ""}, today=FIXED_TODAY)
    after = (folder / "observations.csv").read_bytes()
    assert after == content + b"troops;2022-10-16;12;;\r\n"


def test_file_without_final_newline_gets_the_row_on_its_own_line(tmp_path):
    folder = watchlist(tmp_path)
    (folder / "observations.csv").write_bytes((OBSERVATION_HEADER + "2022-10-01,troops,5,,,,,,,").encode())
    append_observation(folder, ROW, today=FIXED_TODAY)
    assert (folder / "observations.csv").read_bytes().decode().splitlines()[-2:] == [
        "2022-10-01,troops,5,,,,,,,", "2022-10-16,troops,12,MoD,,,,,,"]
    assert len(load_watchlist(folder, today=FIXED_TODAY).observations) == 2


def test_bad_row_is_rejected_with_the_field_and_nothing_is_written(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    with pytest.raises(RowRejected) as rejected:
        append_observation(folder, {**ROW, "value": "about 12", "reliability": "Z"}, today=FIXED_TODAY)
    assert [(p.field, p.code) for p in rejected.value.problems] == [("value", "not_a_number"),
                                                                    ("reliability", "bad_reliability")]
    assert (folder / "observations.csv").read_bytes() == before


def test_a_column_the_file_lacks_is_refused_not_dropped(tmp_path):
    folder = watchlist(tmp_path)
    (folder / "observations.csv").write_text("date,indicator,value\n")
    with pytest.raises(WriteRefused, match="the file has no note column; add it to the header line"):
        append_observation(folder, {**ROW, "source": "", "note": "keep me"}, today=FIXED_TODAY)


def test_a_file_changed_on_disk_since_it_was_read_is_not_overwritten(tmp_path):
    folder = watchlist(tmp_path)
    path = folder / "observations.csv"
    snapshot = load_watchlist(folder, today=FIXED_TODAY).snapshots["observations.csv"]
    with open(path, "a") as handle:  # somebody saves the file in Excel meanwhile
        handle.write("2022-10-02,troops,6,B,,,,,,\n")
    edited = path.read_bytes()
    with pytest.raises(WriteRefused, match="changed on disk since it was read"):
        edit_observation(folder, 2, {"status": "retracted"}, snapshot, today=FIXED_TODAY)
    with pytest.raises(WriteRefused, match="changed on disk since it was read"):
        append_observation(folder, ROW, snapshot, today=FIXED_TODAY)
    assert path.read_bytes() == edited


def test_retracting_keeps_the_row_changes_only_its_line_and_keeps_history(tmp_path):
    folder = watchlist(tmp_path, '2022-10-01,troops,5,A,,,,,,"multi\nline"\n2022-10-02,troops,25,B,,,,,,\n'
                                 "2022-10-03,troops,7,C,,,,,,\n")
    path = folder / "observations.csv"
    before = path.read_bytes()
    snapshot = FileSnapshot.of(path)
    edit_observation(folder, 4, {"status": "retracted"}, snapshot, today=FIXED_TODAY)
    lines = path.read_text().splitlines()
    assert lines == before.decode().splitlines()[:3] + ["2022-10-02,troops,25,B,,,,retracted,,",
                                                        "2022-10-03,troops,7,C,,,,,,"]
    history = list((folder / ".history").iterdir())
    assert len(history) == 1 and history[0].read_bytes() == before
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert loaded.observations["status"].tolist() == ["reported", "retracted", "reported"]


def test_fixing_a_typo_in_the_last_line_without_newline(tmp_path):
    folder = watchlist(tmp_path)
    path = folder / "observations.csv"
    path.write_bytes((OBSERVATION_HEADER + "2022-10-01,troops,5,A,,,,,,").encode())
    edit_observation(folder, 2, {"value": "50"}, today=FIXED_TODAY)
    assert path.read_bytes() == (OBSERVATION_HEADER + "2022-10-01,troops,50,A,,,,,,").encode()


def test_an_edit_that_breaks_the_rules_writes_nothing(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    with pytest.raises(RowRejected, match='value: "five" is not a number'):
        edit_observation(folder, 2, {"value": "five"}, today=FIXED_TODAY)
    with pytest.raises(WriteRefused, match="has no record starting on line 9"):
        edit_observation(folder, 9, {"value": "6"}, today=FIXED_TODAY)
    assert (folder / "observations.csv").read_bytes() == before
    assert not (folder / ".history").exists()


def test_append_event_creates_the_file_with_its_header(tmp_path):
    folder = watchlist(tmp_path)
    append_event(folder, {"date": "2099-01-01", "title": "Summit, planned"})
    assert (folder / "events.csv").read_text() == ("date,title,category,description,source,url,end_date\n"
                                                   '2099-01-01,"Summit, planned",,,,,\n')


APPEND_MANY = """
import datetime as dt, sys
from pathlib import Path
from indicators.store.writing import append_observation
folder, worker, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for number in range(count):
    append_observation(folder, {"date": "2022-10-16", "indicator": "n", "value": "", "source": f"worker {worker}",
                                "note": f"row {worker}-{number}"}, today=dt.date.fromisoformat(sys.argv[4]))
"""


@pytest.mark.slow
def test_four_processes_appending_100_rows_each_lose_nothing(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    # four separate Python processes, each appending in a loop (no fork: nothing shared but the file)
    workers = [subprocess.Popen([sys.executable, "-c", APPEND_MANY, str(folder), str(worker), "100",
                                 FIXED_TODAY.isoformat()], cwd=REPO, stderr=subprocess.PIPE, text=True)
               for worker in range(4)]
    for process in workers:
        _, errors = process.communicate(timeout=600)
        assert process.returncode == 0, errors
    after = (folder / "observations.csv").read_bytes()
    assert after.startswith(before)
    added = after[len(before):].decode().splitlines()
    assert sorted(line.rsplit(",", 1)[1] for line in added) == sorted(
        f"row {w}-{n}" for w in range(4) for n in range(100))
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert loaded.problems == [] and len(loaded.observations) == 401


def test_cli_add_writes_one_checked_line(tmp_path):
    folder = watchlist(tmp_path)
    result = CliRunner().invoke(app, ["add", str(folder), "--indicator", "troops", "--date", "2022-10-16",
                                      "--value", "12", "--source", "MoD", "--reliability", "B", "--credibility", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "added: 2022-10-16,troops,12,MoD,,B,2,,,\n"
    assert (folder / "observations.csv").read_text().endswith("2022-10-16,troops,12,MoD,,B,2,,,\n")


def test_cli_add_with_bad_input_exits_1_and_writes_nothing(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    result = CliRunner().invoke(app, ["add", str(folder), "--indicator", "troopz", "--date", "2099-01-01",
                                      "--value", "12"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == ('Error: indicator: "troopz" is not an indicator in watchlist.yaml; '
                                             "known ids: n, troops")
    assert result.stderr.splitlines()[-1] == "Nothing was written."
    assert (folder / "observations.csv").read_bytes() == before


def test_cli_add_event(tmp_path):
    folder = watchlist(tmp_path)
    result = CliRunner().invoke(app, ["add-event", str(folder), "--date", "2022-10-10", "--title", "Grouping",
                                      "--end-date", "2022-10-01"])
    assert result.exit_code == 1
    assert "Error: end_date: 2022-10-01 is before the event's date 2022-10-10" in result.stderr
    result = CliRunner().invoke(app, ["add-event", str(folder), "--date", "2022-10-10", "--title", "Grouping"])
    assert result.exit_code == 0
    assert load_watchlist(folder, today=FIXED_TODAY).events["title"].tolist() == ["Grouping"]


FULL_DISK_BYTES = 256 * 1024


@contextlib.contextmanager
def small_disk(tmp_path):
    """A folder on a real 256 KiB tmpfs when this machine lets the test mount one (as root), else None."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FULL_DISK_BYTES}", "tmpfs", str(mount_point)],
                             capture_output=True).returncode == 0
    try:
        yield mount_point if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_an_append_on_a_full_disk_leaves_the_file_byte_for_byte_as_it_was(tmp_path, monkeypatch):
    with small_disk(tmp_path) as disk:
        folder = watchlist(disk or tmp_path)
        path = folder / "observations.csv"
        before = path.read_bytes()
        if disk is not None:  # fill the disk but for a few KiB: the row below cannot fit
            filler = disk / "filler"
            with open(filler, "wb", buffering=0) as handle:
                with contextlib.suppress(OSError):
                    while True:
                        handle.write(b"x" * 4096)
            os.truncate(filler, filler.stat().st_size - 8192)
        else:  # no mount allowed here: the disk fills up half-way through the write
            real_write = os.write

            def write_then_full(descriptor, data):
                if len(data) > 1000:
                    real_write(descriptor, data[: len(data) // 2])
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real_write(descriptor, data)

            monkeypatch.setattr(os, "write", write_then_full)
        result = CliRunner().invoke(app, ["add", str(folder), "--indicator", "troops", "--date", "2022-10-16",
                                     "--value", "12", "--note", "n" * 20000])
        assert result.exit_code == 1
        assert result.stderr == (f"Error: {path}: the disk is full; nothing was written (the file is as it was)\n")
        assert path.read_bytes() == before  # no half line left to be read as an observation


def test_a_nul_or_control_character_is_refused_on_write(tmp_path):
    folder = watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    with pytest.raises(RowRejected) as refused:
        append_observation(folder, {**ROW, "note": "ok\x00bad"}, today=FIXED_TODAY)
    assert str(refused.value) == ("note: contains the control character NUL; remove it (a NUL would make the whole "
                                  "file unreadable)")
    with pytest.raises(RowRejected, match=r"source: contains the control character \\x1b"):
        append_observation(folder, {**ROW, "source": "\x1b[2J"}, today=FIXED_TODAY)
    assert (folder / "observations.csv").read_bytes() == before


def test_a_writer_waits_while_another_holds_the_lock(tmp_path):
    from filelock import FileLock

    folder = watchlist(tmp_path)
    path = folder / "observations.csv"
    before = path.read_bytes()
    held = FileLock(str(folder / ".observations.csv.lock"))
    held.acquire()
    try:
        process = subprocess.Popen([sys.executable, "-c", APPEND_ONE, str(folder)], cwd=REPO)
        time.sleep(3)
        assert process.poll() is None  # still waiting for the lock
        assert path.read_bytes() == before  # and nothing written meanwhile
    finally:
        held.release()
    assert process.wait(timeout=60) == 0
    assert path.read_bytes().startswith(before) and path.read_bytes().count(b"\n") == before.count(b"\n") + 1


APPEND_ONE = """
import sys
from pathlib import Path
from indicators.store.writing import append_observation
append_observation(Path(sys.argv[1]), {"date": "2022-10-16", "indicator": "troops", "value": "12"})
"""

PAUSED_EDIT = """
import os, sys, time
from pathlib import Path
marker = Path(sys.argv[2])
real_fdopen = os.fdopen


class HalfThenPause:
    # writes half of the new data file, then waits to be killed: a writer caught mid-write
    def __init__(self, handle):
        self.handle = handle
    def write(self, data):
        if b"troops,12345," not in data:
            return self.handle.write(data)  # the history copy of the old file
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        marker.write_text("paused")
        time.sleep(600)
    def __getattr__(self, name):
        return getattr(self.handle, name)
    def __enter__(self):
        return self
    def __exit__(self, *args):
        return self.handle.__exit__(*args)


os.fdopen = lambda *args, **kwargs: HalfThenPause(real_fdopen(*args, **kwargs))
from indicators.store.writing import edit_observation
edit_observation(Path(sys.argv[1]), 2, {"value": "12345"})
"""


def test_a_writer_killed_half_way_through_an_edit_leaves_the_old_file_and_the_next_writer_tidies_up(tmp_path):
    folder = watchlist(tmp_path, "".join(f"2022-10-01,troops,{n},source {n},,,,,,note {n}\n" for n in range(5000)))
    path = folder / "observations.csv"
    old = path.read_bytes()
    marker = tmp_path / "paused"
    process = subprocess.Popen([sys.executable, "-c", PAUSED_EDIT, str(folder), str(marker)], cwd=REPO)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the writer never reached the write"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert path.read_bytes() == old  # killed mid-write: the data file is untouched
    assert [p.name for p in folder.glob(".observations.csv.*.tmp")]  # it left its half temporary file
    edit_observation(folder, 3, {"status": "disputed"}, today=FIXED_TODAY)
    assert list(folder.glob(".observations.csv.*.tmp")) == []  # the next writer removed it
    assert load_watchlist(folder, today=FIXED_TODAY).problems == []


def test_a_group_shared_folder_stays_writable_for_the_group(tmp_path):
    folder = watchlist(tmp_path)
    path = folder / "observations.csv"
    os.chmod(folder, 0o2775)  # setgid, group-writable: a shared folder
    os.chmod(path, 0o664)
    old_umask = os.umask(0o022)  # a member whose umask would make new files private to them
    try:
        append_observation(folder, ROW, today=FIXED_TODAY)
        edit_observation(folder, 2, {"status": "confirmed"}, today=FIXED_TODAY)
    finally:
        os.umask(old_umask)
    lock = folder / ".observations.csv.lock"
    assert lock.stat().st_mode & 0o060 == 0o060  # every member can take the lock after us
    assert path.stat().st_mode & 0o777 == 0o664  # the edited file keeps its group write bit
    history = next((folder / ".history").iterdir())
    assert history.stat().st_mode & 0o777 == 0o664


def test_a_symlinked_file_is_edited_through_the_link(tmp_path):
    folder = watchlist(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "observations.csv"
    (folder / "observations.csv").rename(target)
    (folder / "observations.csv").symlink_to(target)
    append_observation(folder, ROW, today=FIXED_TODAY)
    edit_observation(folder, 2, {"status": "disputed"}, today=FIXED_TODAY)
    link = folder / "observations.csv"
    assert link.is_symlink() and link.resolve() == target  # the link stays a link
    assert b"disputed" in target.read_bytes() and b"2022-10-16,troops,12" in target.read_bytes()
    assert (shared / ".observations.csv.lock").exists() and not (folder / ".observations.csv.lock").exists()


def test_the_file_signature_sees_a_same_size_edit_with_its_modification_time_put_back(tmp_path):
    from indicators.store.loader import files_signature

    folder = watchlist(tmp_path)
    path = folder / "observations.csv"
    before = files_signature(folder)
    stat = path.stat()
    time.sleep(0.05)  # file times tick in steps of a few milliseconds
    path.write_bytes(path.read_bytes().replace(b"troops,5,", b"troops,6,"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old modification time
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert files_signature(folder) != before


EDIT_IN_A_FRESH_PROCESS = """
import datetime as dt, sys
from pathlib import Path
from indicators.store.writing import edit_observation
edit_observation(Path(sys.argv[1]), 2, {"status": "disputed"}, today=dt.date(2026, 1, 1))
"""


def test_a_row_with_a_note_beyond_the_csv_modules_limit_can_be_edited(tmp_path):
    # in a process of its own: nothing has read the files first (the loader raises the same limit)
    folder = watchlist(tmp_path, f'2022-10-01,troops,5,MoD,,,,,,"{"x" * 300_000}"\n')
    result = subprocess.run([sys.executable, "-c", EDIT_IN_A_FRESH_PROCESS, str(folder)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]
    assert (folder / "observations.csv").read_text().splitlines()[1].startswith("2022-10-01,troops,5,MoD,,,,disputed,")
