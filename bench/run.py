"""Watchfloor benchmarks: run by hand, not part of the test suite.

    .venv/bin/python bench/run.py [--sizes 10000,100000,730000] [--out bench/out]
    .venv/bin/python bench/run.py --feeds [--acled-rows 2500000] [--gdelt-rows 10000000]
    .venv/bin/python bench/run.py --map [--sizes 730000]   (the Map page, a place on every row)
    .venv/bin/python bench/run.py --many-files 10000   (status on a feed of that many small files)
    .venv/bin/python bench/run.py --served   (the served dashboard's processor time per page view)

Generates synthetic watchlists (200 indicators, daily; the largest is 200 x 3650 days = 730,000
observations) and prints, for each size, in one run on one machine:

- `watchfloor status` and `watchfloor validate` as whole processes, with peak memory;
- the floor: a process that only parses the CSV with pandas.read_csv(engine="pyarrow");
- a peer: `frictionless validate` of the same CSV (when installed: pip install frictionless);
- in-process: load + validate, status at one date, the composite index for every day of the period;
- the overview in AppTest: first run, and re-run after changing the as-of date;
- a PNG briefing snapshot (when Chromium is present).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import launch  # noqa: E402
from bench.generate import generate_watchlist  # noqa: E402

INDICATORS = 200
BIN = Path(sys.executable).parent


def timed_process(command: list[str], cwd: Path | None = None, environment: dict | None = None) -> tuple[float, float,
                                                                                                          int]:
    """(seconds, peak resident MB, exit code) of a whole process, as /usr/bin/time would report."""
    # every figure but the cache's own reads the files afresh, as a first run does
    environment = environment or {**os.environ, "WATCHFLOOR_NO_CACHE": "1"}
    return launch.timed_process(command, cwd, environment)  # from a small process: see bench/launch.py


def best_of(runs: int, command: list[str]) -> tuple[float, float, int]:
    results = [timed_process(command) for _ in range(runs)]
    return min(results, key=lambda result: result[0])


def in_process(folder: Path) -> dict[str, float]:
    from indicators.engine.backtest import backtest, level_history
    from indicators.engine.evaluate import evaluate_statuses
    from indicators.engine.timeseries import composite_index_over_time, level_scores_over_time
    from indicators.format.models import Level
    from indicators.store.loader import load_watchlist

    start = time.perf_counter()
    loaded = load_watchlist(folder)
    load = time.perf_counter() - start
    as_of = loaded.default_as_of()
    start = time.perf_counter()
    evaluate_statuses(loaded.watchlist, loaded.observations, as_of)
    status = time.perf_counter() - start
    first = loaded.observations["date"].min().date()
    start = time.perf_counter()
    scores = level_scores_over_time(loaded.watchlist, loaded.observations, first, as_of)
    composite_index_over_time(loaded.watchlist, scores)
    daily = time.perf_counter() - start
    ruled = with_warning_rules(loaded.watchlist)
    start = time.perf_counter()
    history = level_history(ruled, loaded.observations, first, as_of)
    targets = [first + (as_of - first) * share for share in (0.25, 0.5, 0.75)]
    backtest(history, [i.id for i in ruled.indicators], targets, Level.HIGH, first, as_of)
    rules = time.perf_counter() - start
    return {"load": load, "status": status, "daily": daily, "days": len(scores), "rules": rules}


def with_warning_rules(watchlist):
    """The watchlist with warning rules on: every 4th indicator holds for 14 days, every windowed
    sum/count indicator compares with a 28-day baseline, and two floors."""
    from indicators.format.models import Change, Floor, Overall

    indicators = []
    for number, indicator in enumerate(watchlist.indicators):
        update = {"hold_days": 14} if number % 4 == 0 else {}
        if indicator.aggregate in ("sum", "count") and indicator.window_days:
            update["change"] = Change(baseline_days=28, min_baseline=1, min_value=2)
        indicators.append(indicator.model_copy(update=update))
    floors = [Floor(indicator=indicators[0].id, at="critical", lifts_to="high"), Floor(count=10, at="high")]
    return watchlist.model_copy(update={"indicators": indicators, "overall": Overall(floors=floors)})


def overview_times(folder: Path) -> tuple[float, float]:
    """AppTest overview: first run, and the best of three re-runs after changing the as-of date."""
    code = f"""
import datetime as dt, os, time
os.environ["WATCHFLOOR_ROOT"] = {str(folder)!r}
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")!r}, default_timeout=900)
start = time.perf_counter(); app.run(); first = time.perf_counter() - start
assert not app.exception, app.exception
as_of = app.sidebar.date_input(key="as_of").value
reruns = []
for days in (30, 60, 90):
    start = time.perf_counter()
    app.sidebar.date_input(key="as_of").set_value(as_of - dt.timedelta(days=days)).run()
    reruns.append(time.perf_counter() - start)
    assert not app.exception, app.exception
print(first, min(reruns))
"""
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    first, rerun = output.split()[-2:]
    return float(first), float(rerun)


def snapshot_seconds(folder: Path, out: Path, runs: int = 1) -> float | None:
    """Best whole `watchfloor snapshot` process time, or None when it cannot run here."""
    if not Path("/usr/bin/chromium").exists() and out.suffix != ".html":
        return None
    seconds, _, code = best_of(runs, [str(BIN / "watchfloor"), "snapshot", str(folder), "--out", str(out)])
    return seconds if code == 0 else None


def snapshot_time(folder: Path, out: Path, runs: int = 1) -> str:
    seconds = snapshot_seconds(folder, out, runs)
    return "n/a" if seconds is None else f"{seconds:.2f}"


KALEIDO_SCRIPT = """
import plotly.graph_objects as go
figure = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))
figure.write_image({out!r}, width=800, height=400)
"""


def kaleido_cold_seconds(out: Path, runs: int = 1) -> float | None:
    """Best of ``runs`` whole processes that export one plotly figure with kaleido (system Chromium)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return None
    environment = {**os.environ, "BROWSER_PATH": "/usr/bin/chromium"}
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, "-c", KALEIDO_SCRIPT.format(out=str(out))], env=environment,
                                   capture_output=True)
        seconds = time.perf_counter() - start
        if completed.returncode != 0:
            return None
        best = seconds if best is None else min(best, seconds)
    return best


def kaleido_cold_export(out: Path, runs: int = 1) -> str:
    seconds = kaleido_cold_seconds(out, runs)
    return "n/a (pip install kaleido)" if seconds is None else f"{seconds:.2f}"


def briefings_only(sizes: list[int], out: Path, runs: int) -> None:
    """The briefing targets: a PNG of the bundled watchlist within one cold kaleido export, and a
    PNG of the largest watchlist within 1.5x the bundled one."""
    bundled = Path(__file__).resolve().parents[1] / "data" / "belarus-2022"
    png = snapshot_seconds(bundled, out / "belarus.png", runs)
    kaleido = kaleido_cold_seconds(out / "kaleido.png", runs)
    print(f"Briefings, best of {runs} whole processes (s): bundled PNG {png:.2f}; kaleido one figure "
          f"{'n/a' if kaleido is None else f'{kaleido:.2f}'}"
          + ("" if kaleido is None else f"; PNG / kaleido {png / kaleido:.2f}x"))
    for size in sizes:
        folder = out / f"w{size}"
        if not (folder / "observations.csv").exists():
            generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS))
        seconds = snapshot_seconds(folder, out / f"snapshot-{size}.png", runs)
        print(f"  {size:,} rows: PNG {seconds:.2f}; / bundled {seconds / png:.2f}x")


MAP_SCRIPT = """
import datetime as dt, os, sys, time
sys.path.insert(0, {repo!r})
os.environ["WATCHFLOOR_ROOT"] = {folder!r}
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({app!r}, default_timeout=900)
app.query_params["page"] = "map"
start = time.perf_counter(); app.run(); first = time.perf_counter() - start
assert not app.exception, app.exception
as_of = app.sidebar.date_input(key="as_of").value
reruns = []
for days in (30, 60, 90):
    start = time.perf_counter()
    app.sidebar.date_input(key="as_of").set_value(as_of - dt.timedelta(days=days)).run()
    reruns.append(time.perf_counter() - start)
    assert not app.exception, app.exception
from indicators.store.loader import load_watchlist
from indicators.engine.timeseries import level_scores_over_time
from indicators.engine.mapdata import aggregate_markers, fit_view, located_rows, rows_known_on
from indicators.views.map_figure import build_map_figure
loaded = load_watchlist({folder!r})
scores = level_scores_over_time(loaded.watchlist, loaded.observations, loaded.observations["date"].min().date(),
                                loaded.default_as_of())
located = located_rows(loaded.observations, loaded.events, scores)
steps = {{"rows": [], "markers": [], "figure": [], "json": []}}
for days in (30, 60, 90):
    day = as_of - dt.timedelta(days=days)
    t0 = time.perf_counter(); shown = rows_known_on(located, day, day - dt.timedelta(days=89))
    t1 = time.perf_counter(); markers = aggregate_markers(shown)
    t2 = time.perf_counter()
    figure = build_map_figure(markers, fit_view(shown["lat"], shown["lon"]), day, {{}}, {{}})
    t3 = time.perf_counter(); figure.to_json(); t4 = time.perf_counter()
    for name, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        steps[name].append(seconds)
print(first, min(reruns), len(located), len(shown), len(markers.frame), markers.cell_degrees or 0,
      *(min(values) for values in steps.values()))
"""


def map_only(out: Path, size: int, runs: int) -> None:
    """The Map page of the largest watchlist with a place on every row: first run and re-run after an
    as-of change in AppTest (target: under 0.5 s), with the steps of a redraw in-process."""
    folder = out / f"w{size}-places"
    if not (folder / "places.csv").exists():
        generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS), places=True)
    repo = Path(__file__).resolve().parents[1]
    code = MAP_SCRIPT.format(repo=str(repo), folder=str(folder), app=str(repo / "dashboard" / "app.py"))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    first, rerun, located, shown, markers, cell, rows_s, markers_s, figure_s, json_s = output.split()[-10:]
    status = best_of(runs, [str(BIN / "watchfloor"), "status", str(folder), "--json"])
    plain = out / f"w{size}"
    if not (plain / "observations.csv").exists():
        generate_watchlist(plain, INDICATORS, max(1, size // INDICATORS))
    status_plain = best_of(runs, [str(BIN / "watchfloor"), "status", str(plain), "--json"])
    print(f"Map benchmark, {dt.date.today().isoformat()}, {os.cpu_count()} cores; {size:,} rows, every one at one "
          f"of 300 places of places.csv; the Map page over 90 days in AppTest\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| Map page first run (s) | {float(first):.2f} | |")
    print(f"| Map page re-run after an as-of change (s) | {float(rerun):.3f} | under 0.5 s |")
    print(f"| rows with a place / shown in 90 days / markers drawn | {int(located):,} / {int(shown):,} / "
          f"{int(markers):,} (cells of {float(cell):.2g} degrees) | at most 2,000 markers |")
    print(f"| redraw steps in-process (s): rows known on the day / markers / figure / JSON | {float(rows_s):.3f} / "
          f"{float(markers_s):.3f} / {float(figure_s):.3f} / {float(json_s):.3f} | |")
    print(f"| `watchfloor status` with places / without (s, best of {runs}; peak MB) | {status[0]:.2f} / "
          f"{status_plain[0]:.2f} ({status[1]:.0f} / {status_plain[1]:.0f} MB) | |")


def feeds_only(out: Path, acled_rows: int, gdelt_rows: int, runs: int) -> None:
    """`watchfloor status` on 10 ACLED and 10 GDELT feed indicators against a bare DuckDB query."""
    from bench.feeds import bare_query_code, prepare

    folder = prepare(out, acled_rows, gdelt_rows)
    sizes = {path.name: path.stat().st_size / 1e9 for path in sorted((folder / "feeds").iterdir())}
    bare = best_of(runs, [sys.executable, "-c", bare_query_code(folder)])
    status = best_of(runs, [str(BIN / "watchfloor"), "status", str(folder), "--json"])
    first, rerun = overview_times(folder)
    print(f"Feed benchmark, {dt.date.today().isoformat()}, {os.cpu_count()} cores; ACLED {acled_rows:,} rows, "
          f"GDELT {gdelt_rows:,} rows (" + ", ".join(f"{name} {size:.2f} GB" for name, size in sizes.items())
          + f"); 10 feed indicators on each; whole processes best of {runs}\n")
    print("| measure | seconds | peak MB | target |")
    print("|---|---|---|---|")
    print(f"| bare DuckDB process counting the matching rows per day | {bare[0]:.2f} | {bare[1]:.0f} | |")
    print(f"| `watchfloor status` | {status[0]:.2f} | {status[1]:.0f} | within 2x: "
          f"{status[0] / bare[0]:.2f}x; under 1 GB |")
    print(f"| dashboard first run (AppTest overview) | {first:.2f} | | |")
    print(f"| dashboard re-run after an as-of change | {rerun:.3f} | | under 0.3 s |")


def robustness_only(sizes: list[int], out: Path, runs: int) -> None:
    """`backtest --robustness` (every row of the lead window left out in turn) as whole processes:
    the bundled watchlist (target: under 10 s), and the synthetic ones with a lead window holding
    at most 2,000 rows."""
    bundled = Path(__file__).resolve().parents[1] / "data" / "belarus-2022"
    command = [str(BIN / "watchfloor"), "backtest", str(bundled), "--target", "2022-02-24", "--robustness", "--json"]
    seconds, peak, _ = best_of(runs, command)
    print(f"backtest --robustness, best of {runs} whole processes: bundled watchlist {seconds:.2f} s, peak {peak:.0f} MB "
          "(target: under 10 s)")
    for size in sizes:
        folder = out / f"w{size}"
        if not (folder / "observations.csv").exists():
            generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS))
        loaded_end = max(line.split(",", 1)[0] for line in (folder / "observations.csv").open() if line[:1].isdigit())
        target = (dt.date.fromisoformat(loaded_end) + dt.timedelta(days=1)).isoformat()
        lead = max(1, 2000 // INDICATORS - 1)
        seconds, peak, code = best_of(runs, [str(BIN / "watchfloor"), "backtest", str(folder), "--target", target,
                                             "--lead-window", str(lead), "--robustness", "--json"])
        print(f"  {size:,} rows, {INDICATORS} indicators, lead window {lead} days (about {lead * INDICATORS:,} rows "
              f"left out in turn): {seconds:.2f} s, peak {peak:.0f} MB (exit {code})")


def cached_runs(runs: int, command: list[str], cache_dir: Path) -> tuple[tuple, tuple]:
    """(cold, warm) whole-process figures with the derived cache in ``cache_dir``: cold is the best of
    ``runs`` runs each on an emptied cache, warm the best of ``runs`` runs on the cache the first left."""
    environment = {**os.environ, "WATCHFLOOR_CACHE_DIR": str(cache_dir)}
    cold = []
    for _ in range(runs):
        shutil.rmtree(cache_dir, ignore_errors=True)
        cold.append(timed_process(command, environment=environment))
    warm = [timed_process(command, environment=environment) for _ in range(runs)]
    return min(cold), min(warm)


def cache_only(out: Path, runs: int, acled_rows: int, gdelt_rows: int, size: int) -> None:
    """The derived cache's figures: hand-entered status at ``size`` rows against a pyarrow parse of the
    same CSV, and feed status against a bare DuckDB process (versions, then counts), cold and warm."""
    from bench.feeds import bare_query_code, prepare

    folder = out / f"w{size}"
    if not (folder / "observations.csv").exists():
        generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS))
    csv = folder / "observations.csv"
    floor_command = [sys.executable, "-c", f"import pandas; pandas.read_csv({str(csv)!r}, engine='pyarrow')"]
    status = [str(BIN / "watchfloor"), "status", str(folder), "--json"]
    fresh_command = [str(BIN / "watchfloor"), "--no-cache", "status", str(folder), "--json"]
    # in rounds of floor, --no-cache and cold: a machine that slows down during the runs slows all three
    rounds = [(timed_process(floor_command), timed_process(fresh_command), cached_runs(1, status, out / "cache-hand"))
              for _ in range(runs)]
    floors = sorted(floor for floor, _, _ in rounds)
    floor, fresh = floors[0], min(fresh for _, fresh, _ in rounds)
    cold, warm = min(cached[0] for _, _, cached in rounds), min(cached[1] for _, _, cached in rounds)
    colds = sorted(cached[0][0] for _, _, cached in rounds)
    print(f"Derived cache, {dt.date.today().isoformat()}, {os.cpu_count()} cores, whole processes best of {runs}\n")
    print(f"Hand-entered, {runs} rounds: floor median {floors[len(floors) // 2][0]:.2f} s, cold median "
          f"{colds[len(colds) // 2]:.2f} s ({colds[len(colds) // 2] / floors[len(floors) // 2][0]:.2f}x)\n")
    print("| measure | seconds | peak MB | / floor | target |")
    print("|---|---|---|---|---|")
    print(f"| {size:,} hand-entered rows: pyarrow parse of the CSV (floor) | {floor[0]:.2f} | {floor[1]:.0f} | 1x | |")
    print(f"| `watchfloor --no-cache status` | {fresh[0]:.2f} | {fresh[1]:.0f} | {fresh[0] / floor[0]:.2f}x | |")
    print(f"| `watchfloor status`, cold (empty cache) | {cold[0]:.2f} | {cold[1]:.0f} | {cold[0] / floor[0]:.2f}x "
          "| at most 2x |")
    print(f"| `watchfloor status`, warm | {warm[0]:.2f} | {warm[1]:.0f} | {warm[0] / floor[0]:.2f}x | at most 0.8x |")
    fed = prepare(out, acled_rows, gdelt_rows)
    counts = best_of(runs, [sys.executable, "-c", bare_query_code(fed)])
    versions = best_of(runs, [sys.executable, "-c", bare_query_code(fed, versions=True)])
    cold, warm = cached_runs(runs, [str(BIN / "watchfloor"), "status", str(fed), "--json"], out / "cache-feeds")
    print(f"| ACLED {acled_rows:,} and GDELT {gdelt_rows:,} rows: bare DuckDB counting per day | {counts[0]:.2f} "
          f"| {counts[1]:.0f} | | |")
    print(f"| bare DuckDB, newest versions then counts (floor) | {versions[0]:.2f} | {versions[1]:.0f} | 1x | |")
    print(f"| `watchfloor status` on the feeds, cold | {cold[0]:.2f} | {cold[1]:.0f} | {cold[0] / versions[0]:.2f}x "
          "| at most 2x, under 1 GB |")
    print(f"| `watchfloor status` on the feeds, warm | {warm[0]:.2f} | {warm[1]:.0f} | {warm[0] / versions[0]:.2f}x "
          "| at most 0.3x, under 1 GB |")


def feed_overhead(out: Path, runs: int) -> None:
    """What reading a small fed watchlist costs beyond its rows: the shipped ACLED example (two small
    files) read without the derived cache, each time from a new folder, so that nothing is reused but
    what the process keeps of its own accord (the compiled batch queries)."""
    from indicators.store import cache
    from indicators.store.loader import load_watchlist

    example = Path(__file__).resolve().parents[1] / "data" / "examples" / "acled-rail-sabotage"
    os.environ[cache.NO_CACHE_VARIABLE] = "1"
    seconds = []
    for run in range(runs + 1):  # the first read also imports and compiles: reported on its own
        folder = out / "feed-overhead" / f"copy-{run}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(example, folder)
        start = time.perf_counter()
        load_watchlist(folder)
        seconds.append(time.perf_counter() - start)
    print(f"Shipped ACLED example, in-process, no derived cache: first read {seconds[0]:.3f} s, "
          f"each later read (best of {runs}) {min(seconds[1:]):.3f} s")


MANY_FILES_YAML = """\
title: Many small feed files
feeds:
  tally: {format: csv, path: "feeds/*.csv", columns: {date: day}}
indicators:
  - {id: reports, name: Reports, category: C, aggregate: count, window_days: 3650, thresholds: {elevated: 1},
     feed: {name: tally}}
"""


def many_files(out: Path, runs: int, count: int) -> None:
    """`watchfloor status` on a feed of ``count`` small files (as a feed of daily or 15-minute exports
    grows), cold and warm: each file has its own cache entry, and keeping the newest few of one kind
    must not list all the others."""
    folder = out / f"many-files-{count}"
    if not (folder / "watchlist.yaml").exists():
        (folder / "feeds").mkdir(parents=True, exist_ok=True)
        for number in range(count):
            day = dt.date(2022, 1, 1) + dt.timedelta(days=number % 365)
            (folder / "feeds" / f"day-{number:05d}.csv").write_text(f"day,note\n{day.isoformat()},x\n")
        (folder / "observations.csv").write_text("date,indicator,value\n")
        (folder / "watchlist.yaml").write_text(MANY_FILES_YAML)
    cold, warm = cached_runs(runs, [str(BIN / "watchfloor"), "status", str(folder), "--json"],
                             out / "cache-many-files")
    print(f"A feed of {count:,} small files, whole `watchfloor status` processes, best of {runs}: cold {cold[0]:.2f} s "
          f"({cold[1]:.0f} MB), warm {warm[0]:.2f} s ({warm[1]:.0f} MB)")


SERVED_PAGES = ("overview", "timelines", "indicator", "events", "scenarios", "map")


def served_page_views(runs: int) -> None:
    """Processor time of the Streamlit server behind `watchfloor serve` on the bundled watchlist, per page
    a visitor opens in Chromium (each page in a new browser context, as of 2022-02-20): its first page
    (which also imports and reads the watchlist) and every later one. The browser's own time is not
    counted; the server's is read from /proc (Linux)."""
    import socket

    from playwright.sync_api import sync_playwright

    from indicators.service.serving import is_healthy
    from indicators.views.export import CHROMIUM_ARGS, find_chromium

    def server_seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    bundled = Path(__file__).resolve().parents[1] / "data" / "belarus-2022"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = subprocess.Popen([str(BIN / "watchfloor"), "serve", str(bundled), "--port", str(port), "--no-browser"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not is_healthy(url):
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard did not start within 120 s")
            time.sleep(0.3)
        children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()
        server = int(children[0])
        started = server_seconds(server)
        views: dict[str, list[float]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            for run in range(runs + 1):
                for page_name in SERVED_PAGES:
                    before = server_seconds(server)
                    context = browser.new_context(viewport={"width": 1600, "height": 1000})
                    page = context.new_page()
                    page.goto(f"{url}/?page={page_name}&as_of=2022-02-20")
                    page.wait_for_function(
                        "() => ['notRunning', 'compilationError'].includes(document.querySelector("
                        "'[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state'))"
                        " && document.querySelector('[data-testid=\"stMain\"]') !== null", timeout=120000)
                    page.wait_for_timeout(500)  # what the run does after its last element
                    context.close()
                    views.setdefault("first" if run == 0 and page_name == SERVED_PAGES[0] else page_name,
                                     []).append(server_seconds(server) - before)
            browser.close()
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    later = [seconds for name, times in views.items() if name != "first" for seconds in times]
    print(f"Served dashboard, bundled watchlist, server processor time: start {started:.2f} s; first page "
          f"{views['first'][0]:.2f} s; each later page, median of {len(later)}: {statistics.median(later):.2f} s")
    for name in SERVED_PAGES:
        times = views.get(name, [])
        if times:
            print(f"  {name:<10} median {statistics.median(times):.2f} s over {len(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Watchfloor benchmarks")
    parser.add_argument("--sizes", default="10000,100000,730000")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--runs", type=int, default=3, help="whole-process timings: best of this many")
    parser.add_argument("--briefings", action="store_true", help="only the briefing timings and their targets")
    parser.add_argument("--rules", action="store_true", help="only history and backtest with warning rules, in-process")
    parser.add_argument("--feeds", action="store_true", help="only the feed figures (ACLED and GDELT on DuckDB)")
    parser.add_argument("--map", action="store_true", help="only the Map page of the largest size, a place on every "
                                                           "row")
    parser.add_argument("--robustness", action="store_true", help="only backtest --robustness, whole processes")
    parser.add_argument("--cache", action="store_true", help="only the derived cache: cold and warm status, "
                        "hand-entered and fed")
    parser.add_argument("--feed-overhead", action="store_true", help="only the cost of reading a small fed "
                        "watchlist (the shipped ACLED example), in-process")
    parser.add_argument("--many-files", type=int, default=0, metavar="N", help="only status on a feed of N small "
                        "files, cold and warm")
    parser.add_argument("--served", action="store_true", help="only the served dashboard: the server's processor "
                        "time per page view")
    parser.add_argument("--acled-rows", type=int, default=2_500_000)
    parser.add_argument("--gdelt-rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.served:
        served_page_views(args.runs)
        return
    if args.many_files:
        many_files(args.out, args.runs, args.many_files)
        return
    if args.feed_overhead:
        feed_overhead(args.out, max(args.runs, 5))
        return
    if args.feeds:
        feeds_only(args.out, args.acled_rows, args.gdelt_rows, args.runs)
        return
    if args.map:
        map_only(args.out, max(int(part) for part in args.sizes.split(",")), args.runs)
        return
    if args.cache:
        cache_only(args.out, args.runs, args.acled_rows, args.gdelt_rows, int(args.sizes.split(",")[-1]))
        return
    if args.robustness:
        robustness_only([int(part) for part in args.sizes.split(",")], args.out, args.runs)
        return
    if args.briefings:
        briefings_only([int(part) for part in args.sizes.split(",")], args.out, args.runs)
        return
    if args.rules:
        for size in (int(part) for part in args.sizes.split(",")):
            folder = args.out / f"w{size}"
            if not (folder / "observations.csv").exists():
                generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS))
            inner = in_process(folder)
            print(f"{size:,} rows, {inner['days']} days: history + backtest with warning rules {inner['rules']:.3f} s "
                  f"(daily levels without rules {inner['daily']:.3f} s)")
        return
    frictionless = shutil.which("frictionless", path=f"{BIN}:{os.environ.get('PATH', '')}")
    rows = []
    for size in (int(part) for part in args.sizes.split(",")):
        folder = args.out / f"w{size}"
        if not (folder / "observations.csv").exists():
            generate_watchlist(folder, INDICATORS, max(1, size // INDICATORS))
        csv = folder / "observations.csv"
        floor = best_of(args.runs, [sys.executable, "-c",
                                    f"import pandas; pandas.read_csv({str(csv)!r}, engine='pyarrow')"])
        status = best_of(args.runs, [str(BIN / "watchfloor"), "status", str(folder), "--json"])
        validate = best_of(args.runs, [str(BIN / "watchfloor"), "validate", str(folder)])
        # frictionless refuses absolute paths as unsafe: run it inside the folder
        peer = timed_process([frictionless, "validate", csv.name], cwd=folder) if frictionless else None
        inner = in_process(folder)
        first, rerun = overview_times(folder)
        snap = snapshot_time(folder, args.out / f"snapshot-{size}.png")
        rows.append((size, floor, status, validate, peer, inner, first, rerun, snap))
        print(f"done {size}", file=sys.stderr)
    bundled = Path(__file__).resolve().parents[1] / "data" / "belarus-2022"
    exports = {fmt: snapshot_time(bundled, args.out / f"belarus.{fmt}") for fmt in ("png", "pdf", "html")}
    kaleido = kaleido_cold_export(args.out / "kaleido.png")
    print(f"Watchfloor benchmark, {dt.date.today().isoformat()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; whole processes best of {args.runs}\n")
    print("Briefing of the bundled watchlist, whole `watchfloor snapshot` process (s): "
          + ", ".join(f"{fmt.upper()} {seconds}" for fmt, seconds in exports.items())
          + f"; kaleido exporting one plotly figure from a cold start: {kaleido}\n")
    header = ("rows", "pyarrow parse (s)", "status (s)", "status / parse", "status peak MB", "validate (s)",
              "frictionless (s)", "frictionless / validate", "load+validate (s)", "status in-process (s)",
              "daily index (s)", "history+backtest with rules (s)", "overview first (s)", "overview re-run (s)",
              "PNG snapshot (s)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size, floor, status, validate, peer, inner, first, rerun, snap in rows:
        peer_text = f"{peer[0]:.2f}" if peer else "n/a"
        ratio = f"{peer[0] / validate[0]:.1f}x" if peer else "n/a"
        print(f"| {size:,} | {floor[0]:.2f} | {status[0]:.2f} | {status[0] / floor[0]:.2f}x | {status[1]:.0f} | "
              f"{validate[0]:.2f} | {peer_text} | {ratio} | {inner['load']:.2f} | {inner['status']:.3f} | "
              f"{inner['daily']:.3f} ({inner['days']} days) | {inner['rules']:.3f} | {first:.2f} | {rerun:.2f} | "
              f"{snap} |")


if __name__ == "__main__":
    main()
