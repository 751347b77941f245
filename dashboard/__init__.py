"""The Streamlit dashboard: UI only. Everything it shows comes from ``indicators``."""

from __future__ import annotations

import gc

_imports_frozen = False


def freeze_imports_once() -> None:
    """Once per process, after the dashboard's imports: hide what is loaded from the garbage collector.

    Streamlit collects garbage over the whole heap after every run of the script (its
    ``runner.postScriptGC``): with pandas, pyarrow and plotly loaded that is 0.1-0.3 s of processor time
    at every click. The modules, classes and functions imported by the first run live as long as the
    server does; frozen (``gc.freeze``), each later collection looks only at what the runs made. A
    frozen object is still freed when nothing refers to it; only cycles among them are no longer sought,
    and what was garbage before the freeze is collected first.
    """
    global _imports_frozen
    if not _imports_frozen:
        _imports_frozen = True
        gc.collect()
        gc.freeze()
