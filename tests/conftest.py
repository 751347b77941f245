"""Settings shared by the whole suite."""

import atexit
import functools
import gc
import os
import shutil
import tempfile

from hypothesis import settings

# Property tests check behaviour, not speed (speed is measured by bench/run.py): on a busy 2-core
# machine a slow example must not fail a test.
settings.register_profile("watchfloor", deadline=None)
settings.load_profile("watchfloor")

# The derived cache of the tests' processes lives in a folder of their own, never in the user's
# cache folder (each test process its own; tests of the cache set theirs).
if "WATCHFLOOR_CACHE_DIR" not in os.environ:
    os.environ["WATCHFLOOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="watchfloor-test-cache-")
    atexit.register(shutil.rmtree, os.environ["WATCHFLOOR_CACHE_DIR"], ignore_errors=True)

# The Spark tests start a JVM for a few small queries: one that compiles with the quick compiler only
# and collects garbage on one thread needs far less processor time than the default (the feed tests'
# first Spark read: 44 s to 20 s on 2 cores), with the same answers. Set it to run them otherwise.
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
                      "-XX:CICompilerCount=1' pyspark-shell")

# Streamlit's AppTest scans every installed distribution for components at each app's first run
# (about 0.13 s, some hundred times in the suite); the installed packages do not change while the
# tests run, so each test process scans them once. (A served dashboard still scans at its start.)
try:
    from streamlit.components.v2 import manifest_scanner

    manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)
except (ImportError, AttributeError):  # another Streamlit: it scans as it does
    pass


def runs_first(item) -> bool:
    """A browser test or a ``slow`` one: the tests handed out first."""
    return item.get_closest_marker("browser") is not None or item.get_closest_marker("slow") is not None


def pytest_collection_modifyitems(items):
    """The longest tests first (browser and ``slow``), the rest in their files' order. The test processes
    are handed one test at a time (``--maxschedchunk 1``), so the long ones spread over the processes and
    the short ones at the end let them finish together (before, a browser test handed out last kept one
    process busy 20 s after the other had finished)."""
    items.sort(key=lambda item: not runs_first(item))


def pytest_collection_finish(session):
    """What collecting imported (pandas, pyarrow, plotly, the tests' modules) lives as long as the test
    process: the garbage collector need not go through it again at every full collection (``gc.freeze``,
    as the served dashboard does). What the tests make is collected as before. The collector's time in a
    test process, 3.5 s to 2.3 s for the cache, app and export tests."""
    gc.collect()
    gc.freeze()


def pytest_runtest_setup(item):
    """The browser tests come first; once a test process is handed a test that is neither a browser nor
    a slow one, it has had its last browser test: its shared Chromium closes (tests/browser.py)."""
    if not runs_first(item):
        from browser import close_shared_browser

        close_shared_browser()


def pytest_sessionfinish(session):
    from browser import close_shared_browser

    close_shared_browser()
