"""Whole-process measurements, started from a small process.

Linux counts in a child's peak memory the memory of the process it was forked from, up to its exec:
started from the benchmark's own process, which holds the generated watchlists (and pandas), every
command would peak at least at that size. So the commands are started from a small Python process
that runs this module alone (``python bench/launch.py``), one command per line of JSON on its input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

_launchers: list[subprocess.Popen] = []


def run_measured(command: list[str], cwd: str | None, environment: dict) -> tuple[float, float, int]:
    """(seconds, peak resident MB, exit code) of ``command``, run from this process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
                               env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def timed_process(command: list[str], cwd, environment: dict) -> tuple[float, float, int]:
    """``run_measured`` in the small launcher process (started on first use, kept for the others)."""
    if not _launchers:
        _launchers.append(subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True))
    launcher = _launchers[0]
    launcher.stdin.write(json.dumps([[str(part) for part in command], str(cwd) if cwd else None, environment]) + "\n")
    launcher.stdin.flush()
    elapsed, peak, code = json.loads(launcher.stdout.readline())
    return elapsed, peak, code


if __name__ == "__main__":
    for line in sys.stdin:
        print(json.dumps(run_measured(*json.loads(line))), flush=True)
