"""A newcomer's first hour: serve never asks and says why it stops, the installed package finds its
bundled watchlist, editors get a schema, and every hint works as printed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from browser import free_port
from helpers import DEFAULT_WATCHLIST, REPO, indicator, write_watchlist
from indicators.cli import app
from indicators.format.models import Watchlist
from indicators.service.serving import is_healthy
from indicators.store.skeleton import SCHEMA_LINE, watchlist_schema

runner = CliRunner()


def run(*args, **environment):
    return runner.invoke(app, [str(a) for a in args], env=environment or None)


def healthy(port: int) -> bool:
    return is_healthy(f"http://127.0.0.1:{port}")


def start_serve(*args, cwd=None, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "indicators.cli", "serve", *map(str, args), "--no-browser"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=cwd, env=env)


def wait_healthy(process: subprocess.Popen, port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"not healthy on port {port}: {process.stdout.read()}")
        time.sleep(0.3)


def read_until_ready(process: subprocess.Popen) -> str:
    """serve's output up to and including its "ready" line."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Watchfloor is ready: "):
            return "".join(lines)
    raise AssertionError("serve never said it was ready: " + "".join(lines))


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def test_serve_on_a_port_in_use_says_so_and_exits_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", DEFAULT_WATCHLIST, "--port", port, "--no-browser")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: port {port} is already in use on localhost (another dashboard?); stop it, "
                             f"or choose another port with --port {port + 1}\n")


def test_serve_says_why_when_the_server_dies_and_exits_non_zero():
    port = free_port()
    process = start_serve(DEFAULT_WATCHLIST, "--port", port)
    started = read_until_ready(process)
    assert f"Watchfloor is ready: http://localhost:{port}" in started
    assert "Uvicorn" not in started and "URL:" not in started  # Watchfloor's words, not Streamlit's internals
    (server,) = children_of(process.pid)
    os.kill(server, signal.SIGKILL)
    assert process.wait(timeout=30) == 1
    output = process.stdout.read()
    assert "the dashboard server stopped unexpectedly (exit code -9). Its last output:" in output


def test_stopping_serve_stops_the_server_and_exits_0():
    port = free_port()
    process = start_serve(DEFAULT_WATCHLIST, "--port", port)
    read_until_ready(process)
    assert healthy(port)
    (server,) = children_of(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "Watchfloor: stopped." in process.stdout.read()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{server}").exists()  # no orphan keeps the port
    assert not healthy(port)


def test_the_installed_package_serves_its_bundled_watchlist_from_any_folder(tmp_path):
    target = tmp_path / "site"
    # an installation of the package alone (its dependencies are this environment's), built offline
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(REPO)], check=True, capture_output=True)
    assert (target / "watchfloor_bundled" / "belarus-2022" / "observations.csv").is_file()
    assert (target / "watchfloor_bundled" / "belarus-2022" / "places.csv").is_file()
    assert (target / "indicators" / "geodata" / "admin1.json").is_file()  # the map's boundaries ship too
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    located = subprocess.run([sys.executable, "-c", "import indicators.store.bundled as b; print(b.default_watchlist())"],
                             cwd=elsewhere, env=environment, capture_output=True, text=True, check=True)
    assert located.stdout.strip() == str(target / "watchfloor_bundled" / "belarus-2022")
    port = free_port()
    process = start_serve("--port", port, cwd=elsewhere, env=environment)
    try:
        wait_healthy(process, port)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"starting the dashboard on {target / 'watchfloor_bundled' / 'belarus-2022'}" in output


def test_schema_is_generated_from_the_models_and_the_bundled_copy_has_not_drifted():
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == watchlist_schema()
    assert schema["properties"].keys() == Watchlist.model_fields.keys()
    assert schema["$defs"]["Indicator"]["additionalProperties"] is False  # editors flag misspelt keys
    bundled = (DEFAULT_WATCHLIST / "watchlist.schema.json").read_text(encoding="utf-8")
    assert bundled == result.stdout, "regenerate: watchfloor schema > data/belarus-2022/watchlist.schema.json"
    assert (DEFAULT_WATCHLIST / "watchlist.yaml").read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE


def test_init_points_editors_at_the_schema_and_its_hint_names_the_command_as_run(tmp_path):
    folder = tmp_path / "new"
    result = run("init", folder, "--title", "Sahel", WATCHFLOOR_COMMAND="scripts/watchfloor")
    assert result.exit_code == 0, result.output
    assert (folder / "watchlist.yaml").read_text().splitlines()[0] == \
        "# yaml-language-server: $schema=watchlist.schema.json"
    assert json.loads((folder / "watchlist.schema.json").read_text()) == watchlist_schema()
    assert result.stdout.splitlines()[-1] == \
        f"next: edit {folder}/watchlist.yaml, then run: scripts/watchfloor validate {folder}"


def test_the_hint_printed_by_init_runs_as_printed(tmp_path):
    folder = tmp_path / "new"
    hint = subprocess.run([str(REPO / "scripts" / "watchfloor"), "init", str(folder), "--title", "T"],
                          capture_output=True, text=True, cwd=REPO, check=True).stdout.splitlines()[-1]
    command = hint.split("then run: ", 1)[1].split()
    checked = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.endswith("no problems; 0 of 0 observations and 0 of 0 events valid\n")


def test_cli_writes_levels_and_empty_values_as_the_app_does(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator(), indicator("n", aggregate="count", window_days=30,
                                                                     unit="reports", thresholds={"elevated": 1}),
                                              indicator("old", stale_after_days=5)],
                             "2022-10-16,n,,,,,,,,\n2022-10-01,old,25,,,,,,,\n", as_of="2022-10-17")
    lines = run("status", folder).stdout.splitlines()
    assert lines[1] == "Overall: ELEVATED (index 33.3; 1 of 3 indicators current)"
    assert "No data: Troops" in lines and "Stale: Old" in lines  # by name
    rows = {line.split()[0]: line for line in lines if line.startswith(("Troops", "N ", "Old"))}
    assert "NO DATA" in rows["Troops"] and "NO_DATA" not in "\n".join(lines) and "None" not in "\n".join(lines)
    assert "1 report in the last 30 days" in rows["N"]
