"""Hostile-input benchmark: the figures the hardening work promises, measured on whole processes.

    .venv/bin/python bench/hardening.py [--rows 500000] [--exports 16] [--out bench/out]

Prints:
- 16 overlapping ACLED exports (each a full download of the same ``--rows`` rows, as a team that
  keeps every monthly download gets): ``watchfloor status`` time and peak memory, with DuckDB capped
  at 512 MB, against one export alone; the matching counts must be the same;
- a zip that unpacks to 1 GB: how long until it is refused, and how much was written to scratch;
- a webhook that accepts the connection and trickles its answer: how long ``watch --once`` lives
  with the default --send-timeout (30 s) and with --send-timeout 5;
- ``history`` over the longest period allowed (36,600 days) and over 0001-01-01 to 9999-12-31.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.feeds import ACLED_WHERES, generate_acled  # noqa: E402

PYTHON = sys.executable


def run_measured(arguments: list[str], env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Like ``run``, with the child's peak resident memory from wait4 (Linux: kilobytes)."""
    started = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                               env={**os.environ, **(env or {})})
    out = bytearray()
    err = bytearray()
    readers = [threading.Thread(target=lambda: out.extend(process.stdout.read())),
               threading.Thread(target=lambda: err.extend(process.stderr.read()))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    for reader in readers:
        reader.join()
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, subprocess.CompletedProcess(arguments, code, out.decode(), err.decode())


def acled_watchlist(folder: Path, exports: int, rows: int, source: Path) -> Path:
    feeds = folder / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    for number in range(exports):
        target = feeds / f"acled-{number:02d}.csv"
        if not target.exists():
            os.link(source, target) if number else shutil.copyfile(source, target)
    lines = ["title: Overlapping exports (synthetic)", "as_of: 2025-12-31", "feeds:",
             "  acled: {format: acled, path: feeds/acled-*.csv}", "indicators:"]
    for number, (country, types, words) in enumerate(ACLED_WHERES):
        where = f"country: {country}, event_type: [{', '.join(types)}]"
        if words:
            where += f", notes: {{contains: [{', '.join(words)}]}}"
        lines.append(f"  - {{id: acled_{number}, name: ACLED {number}, category: ACLED, aggregate: count, "
                     f"window_days: 30, thresholds: {{elevated: 5, high: 20, critical: 60}}, "
                     f"feed: {{name: acled, where: {{{where}}}}}}}")
    (folder / "watchlist.yaml").write_text("\n".join(lines) + "\n")
    (folder / "observations.csv").write_text("date,indicator,value\n")
    return folder


def bench_exports(out: Path, rows: int, exports: int) -> None:
    source = out / f"acled-{rows}.csv"
    if not source.exists():
        generate_acled(source.with_suffix(".part"), rows)
        source.with_suffix(".part").rename(source)
    one = acled_watchlist(out / f"exports-1-{rows}", 1, rows, source)
    many = acled_watchlist(out / f"exports-{exports}-{rows}", exports, rows, source)
    results = {}
    for label, folder in (("1 export", one), (f"{exports} overlapping exports", many)):
        seconds, peak, done = run_measured([PYTHON, "-m", "indicators.cli", "status", str(folder), "--json"])
        status = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
        levels = {item["id"]: (item["level"], item["value"]) for item in status["indicators"]} if status else None
        results[label] = levels
        size = sum(path.stat().st_size for path in (folder / "feeds").iterdir()) / 1e6
        problems = [line for line in done.stderr.splitlines() if line.strip()]
        print(f"{label}: {size:,.0f} MB of CSV ({rows * (exports if 'overlapping' in label else 1):,} rows): "
              f"status {seconds:.2f} s, peak {peak:.0f} MB, exit {done.returncode}"
              + (f"; {problems[-1]}" if problems else ""))
    same = results["1 export"] == results[f"{exports} overlapping exports"] and results["1 export"] is not None
    print(f"  the same levels and values from {exports} exports as from one: {'yes' if same else 'NO'}")


def bench_zip_bomb(out: Path) -> None:
    folder = out / "zip-bomb"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "feeds").mkdir(parents=True)
    (folder / "watchlist.yaml").write_text(
        "title: Zip bomb\nfeeds:\n  gdelt: {format: gdelt, path: feeds/*.zip}\nindicators:\n"
        "  - {id: force, name: Force, category: M, aggregate: count, window_days: 7, thresholds: {elevated: 1},\n"
        "     feed: {name: gdelt, where: {ActionGeo_CountryCode: BO}}}\n")
    (folder / "observations.csv").write_text("date,indicator,value\n")
    bomb = folder / "feeds" / "20220301.export.CSV.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("20220301.export.CSV", "w", force_zip64=True) as member:
            block = b"\t" * (1 << 24)
            for _ in range(64):  # 1 GiB
                member.write(block)
    seconds, peak, result = run_measured([PYTHON, "-m", "indicators.cli", "validate", str(folder)])
    refused = next((line for line in result.stdout.splitlines() if "unpacks to more than" in line), "not refused")
    # in process: how much the unpacking wrote before it was stopped
    from indicators.feeds import files as feedfiles

    written = []

    class Measured(feedfiles._Bounded):
        def close(self):
            written.append(self.written)
            super().close()

    feedfiles._Bounded = Measured
    file = feedfiles.feed_files(folder, "gdelt", __import__("indicators.format.definitions", fromlist=["x"])
                                .load_definitions(folder).watchlist.feeds["gdelt"])[0][0]
    started = time.perf_counter()
    try:
        feedfiles.prepare_file(file, None, Path(tempfile.mkdtemp()), 0, feedfiles.UnpackLimits())
    except feedfiles.FileLeftOut:
        pass
    unpack_seconds = time.perf_counter() - started
    print(f"zip of {bomb.stat().st_size / 1e6:.2f} MB unpacking to 1 GiB: refused after {unpack_seconds:.2f} s of "
          f"unpacking, having written {max(written, default=0) / 1e6:.0f} MB to scratch; the whole validate process "
          f"took {seconds:.2f} s with a peak of {peak:.0f} MB\n  {refused.replace(str(folder) + '/', '')}")


def bench_trickle(out: Path) -> None:
    folder = out / "trickle"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "watchlist.yaml").write_text(
        "title: Trickle\nalerts: {overall_at: elevated}\nindicators:\n"
        "  - {id: troops, name: Troops, category: M, thresholds: {elevated: 10, high: 20, critical: 30}}\n")
    (folder / "observations.csv").write_text("date,indicator,value\n2022-10-01,troops,5\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    def trickle(connection):
        connection.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\n" * 1000:  # one byte a second: each read well inside any timeout
                if stop.is_set():
                    break
                connection.send(bytes([byte]))
                time.sleep(1)
        except OSError:
            pass
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    command = [PYTHON, "-m", "indicators.cli", "watch", str(folder), "--once", "--notify",
               f"json://127.0.0.1:{port}/hook"]
    env = {"WATCHFLOOR_NOTIFY": ""}
    try:
        run_measured(command + ["--as-of", "2022-10-01"], env)
        with open(folder / "observations.csv", "a") as handle:
            handle.write("2022-10-02,troops,25\n")
        for extra in ([], ["--send-timeout", "5"]):
            seconds, _, done = run_measured(command + ["--as-of", "2022-10-02", *extra], env)
            line = next((text for text in done.stdout.splitlines() if "not delivered" in text), done.stdout.strip())
            print(f"trickling receiver, watch --once {' '.join(extra) or '(default --send-timeout 30)'}: exited "
                  f"{done.returncode} after {seconds:.1f} s\n  {line}")
    finally:
        stop.set()
        listener.close()


def bench_history(out: Path) -> None:
    for first, last in (("1950-01-01", "2050-03-16"), ("0001-01-01", "9999-12-31")):
        seconds, peak, done = run_measured([PYTHON, "-m", "indicators.cli", "history", "data/belarus-2022",
                                            "--from", first, "--to", last, "--csv"])
        days = max(len(done.stdout.splitlines()) - 1, 0)
        print(f"history {first} to {last}: exit {done.returncode}, {days:,} days in {seconds:.2f} s, peak "
              f"{peak:.0f} MB" + (f"\n  {done.stderr.strip()}" if done.stderr.strip() else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--exports", type=int, default=16)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--only", choices=["exports", "zip", "trickle", "history"])
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    steps = {"exports": lambda: bench_exports(arguments.out, arguments.rows, arguments.exports),
             "zip": lambda: bench_zip_bomb(arguments.out), "trickle": lambda: bench_trickle(arguments.out),
             "history": lambda: bench_history(arguments.out)}
    for name, step in steps.items():
        if arguments.only in (None, name):
            step()


if __name__ == "__main__":
    main()
