"""The derived cache: what reading a watchlist costs, kept between processes so that the second and
later reads are cheap. The CSV and feed files stay the only truth.

- Where: the user's cache folder (``platformdirs.user_cache_dir("watchfloor")``; ``WATCHFLOOR_CACHE_DIR``
  overrides), a folder per watchlist folder named by a hash of its absolute path: never inside the
  watchlist folder, so a read never writes there and a read-only watchlist works. In it, a folder per
  kind of entry (a file; a feed has a kind per file), so that keeping a kind's newest entries lists
  only that kind's.
- What: an entry is one Arrow IPC file holding a table and, in its schema's metadata, the key it was
  made for and what goes with the table (problems, counts) as JSON.
- Trust: an entry is used only when the key stored in it equals the key asked for, field by field;
  a damaged, foreign or stale entry is ignored and made again. A key names the files it was made
  from by size, modification and change time, inode, and a hash of their first and last 64 KiB.
- Writes: a temporary file beside the entry, renamed over it when whole: another process sees the
  old entry or the new one, never half of one (and an entry a crash damaged is read as none). A
  cache that cannot be written (a full disk, a read-only home) is not an error: the files are read
  afresh.
- Remembered answers of read-only commands (``answers.py``) are kept here too, as small JSON files.
- ``WATCHFLOOR_NO_CACHE=1`` (the command line's ``--no-cache``) turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

CACHE_VARIABLE = "WATCHFLOOR_CACHE_DIR"
NO_CACHE_VARIABLE = "WATCHFLOOR_NO_CACHE"
FORMAT = 1  # what an entry holds; a new format never reads an old entry
EDGE_BYTES = 64 * 1024
KEEP_PER_KIND = 3  # entries of one kind kept per watchlist (older versions of the files are dropped)
FOLDER_NOTE = "folder.txt"  # names the watchlist folder an entry folder belongs to (for ``cache --info``)


def enabled() -> bool:
    return os.environ.get(NO_CACHE_VARIABLE, "") not in ("1", "true", "yes")


def cache_root() -> Path:
    """The cache folder: ``WATCHFLOOR_CACHE_DIR``, else the user's cache folder for Watchfloor."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("watchfloor", appauthor=False))


def folder_entries(folder: Path) -> Path:
    """The cache folder of one watchlist folder."""
    folder = str(folder)
    absolute = _resolved(folder, "" if os.path.isabs(folder) else os.getcwd())
    return cache_root() / hashlib.sha256(absolute.encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=64)
def _resolved(folder: str, working_folder: str) -> str:
    """The folder's absolute path, links resolved, once per process: a feed of 3,000 files asks for it
    9,000 times (0.5 ms each). Were a link re-pointed meanwhile, the entries found under the old path
    would still have to match the files' own keys to be used."""
    return str(Path(working_folder, folder).resolve())


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the library's own code, of Python's version and of the installed packages' names and
    versions (pandas, pyarrow, DuckDB...): an entry made by other code (an upgrade, an edit in a
    checkout) is never read as if this code had made it. Imports nothing heavy."""
    import sys

    digest = hashlib.sha256(sys.version.encode())
    for place in sys.path:
        try:
            digest.update(" ".join(sorted(name for name in os.listdir(place or ".")
                                          if name.endswith((".dist-info", ".egg-info")))).encode())
        except OSError:
            continue
    for path in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def file_key(path: Path) -> list | None:
    """What identifies a file's content without reading it all: size, modification and change time
    (the change time cannot be set back), inode, and a hash of its first and last 64 KiB. None when
    the file does not exist."""
    try:
        stat = path.stat()
        digest = hashlib.sha256()
        with path.open("rb") as file:
            digest.update(file.read(EDGE_BYTES))
            if stat.st_size > EDGE_BYTES:
                file.seek(max(EDGE_BYTES, stat.st_size - EDGE_BYTES))
                digest.update(file.read(EDGE_BYTES))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, digest.hexdigest()]


@dataclass(frozen=True)
class Entry:
    table: "pyarrow.Table"  # noqa: F821 - pyarrow is imported where an entry is read
    extra: dict  # what was stored with the table (problems, counts)

    @functools.cached_property
    def frame(self) -> "pandas.DataFrame":  # noqa: F821
        """The table as pandas, made when first asked for (a stage entry goes back to Parquet as Arrow)."""
        return self.table.to_pandas()


def _canonical(key: dict, kind: str) -> str:
    return json.dumps({"format": FORMAT, "kind": kind, **key}, sort_keys=True, default=str)


def kind_folder(folder: Path, kind: str) -> Path:
    """The folder of one kind's entries in a watchlist folder's cache folder. A kind is a file (a feed
    has a kind per file), so keeping the newest few of a kind never lists thousands of others."""
    return folder_entries(folder) / _safe_kind(kind)


def _safe_kind(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", kind)  # a feed's name in watchlist.yaml is part of a kind


def _entry_path(folder: Path, kind: str, key: dict) -> Path:
    digest = hashlib.sha256(_canonical(key, kind).encode()).hexdigest()[:24]
    return kind_folder(folder, kind) / f"{_safe_kind(kind)}-{digest}.arrow"


def has(folder: Path, kind: str, key: dict) -> bool:
    """Whether an entry of this kind for this key is on disk (or being written by this process); it
    may still prove damaged or foreign when read. False when the cache is off."""
    if not enabled():
        return False
    path = _entry_path(folder, kind, key)
    with _writing_lock:
        if any(entry == path for entry, _ in _writing):
            return True
    try:
        return path.exists()
    except OSError:  # a cache folder that cannot be looked into holds nothing usable
        return False


def load(folder: Path, kind: str, key: dict) -> Entry | None:
    """The entry of this kind made for exactly this key, or None (no entry, a damaged or foreign one)."""
    if not enabled():
        return None
    path = _entry_path(folder, kind, key)
    settle(path)  # this entry, when this process is still writing it, is found once written
    try:
        import pyarrow.ipc

        with pyarrow.memory_map(str(path)) as source:
            table = pyarrow.ipc.open_file(source).read_all()
        metadata = table.schema.metadata or {}
        if metadata.get(b"watchfloor-key", b"").decode() != _canonical(key, kind):
            return None  # made for other files (or not by us): never trusted
        extra = json.loads(metadata.get(b"watchfloor-extra", b"{}").decode())
    except Exception:  # noqa: BLE001 - a damaged entry is the same as none: it is made again
        return None
    return Entry(table, extra)


def store(folder: Path, kind: str, key: dict, frame, extra: dict) -> None:
    """Write ``frame`` (a DataFrame, an Arrow table, or an Arrow record batch reader, streamed) as an
    entry atomically (temporary file, flush, rename); drop older entries of the kind.
    A cache that cannot be written is left as it is: the answer never depends on it."""
    if not enabled():
        return
    try:
        import pyarrow
        import pyarrow.ipc

        target = _entry_path(folder, kind, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        note_folder(folder_entries(folder), folder)
        if isinstance(frame, pyarrow.RecordBatchReader):
            schema, batches = frame.schema, frame  # streamed: never the whole table in memory
        else:
            table = frame if isinstance(frame, pyarrow.Table) else pyarrow.Table.from_pandas(frame,
                                                                                             preserve_index=False)
            schema, batches = table.schema, table.to_batches()
        schema = schema.with_metadata({**(schema.metadata or {}), b"watchfloor-key": _canonical(key, kind).encode(),
                                       b"watchfloor-extra": json.dumps(extra, default=str).encode()})
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(descriptor)
        try:
            with pyarrow.OSFile(temporary, "wb") as sink, pyarrow.ipc.new_file(sink, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch.replace_schema_metadata(schema.metadata))
            # no fsync: a crash may leave a damaged entry, and a damaged entry is never trusted (see load)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        prune(target.parent, kind, keep=target.name)
    except Exception:  # noqa: BLE001 - disk full, read-only home, a value Arrow cannot hold: no cache
        return


_writing: list[tuple[Path, threading.Thread]] = []  # (the entry, the thread writing it)
_writing_lock = threading.Lock()


def store_later(folder: Path, kind: str, key: dict, frame, extra: dict) -> None:
    """``store`` on a thread, so that the caller goes on (evaluating) while the entry is written: the
    write lets go of the GIL. The process waits for the write before it exits (the thread is not a
    daemon); ``load`` of the same entry, ``info`` and ``clear`` wait for it first."""
    if hasattr(frame, "copy"):  # a shallow copy (copy-on-write): what the caller changes later is not seen
        frame = frame.copy(deep=False)
    thread = threading.Thread(target=store, args=(folder, kind, key, frame, extra), name="watchfloor-cache-write")
    with _writing_lock:
        _writing[:] = [(path, other) for path, other in _writing if other.is_alive()]  # forget finished ones
        _writing.append((_entry_path(folder, kind, key), thread))
        thread.start()


def settle(entry: Path | None = None) -> None:
    """Wait until every entry this process started writing is written (or given up); with ``entry``,
    only that one: reading one file's entry does not wait for another file's (evaluation goes on)."""
    while True:
        with _writing_lock:
            waiting = [thread for path, thread in _writing if thread.is_alive() and entry in (None, path)]
        if not waiting:
            return
        for thread in waiting:
            thread.join()


def note_folder(entries: Path, folder: Path) -> None:
    """Name the watchlist folder in its entry folder (for ``cache --info``), once."""
    note = entries / FOLDER_NOTE
    if not note.exists():
        write_atomically(note, str(Path(folder).resolve()).encode())


def write_atomically(target: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def prune(entries: Path, kind: str, keep: str, suffix: str = ".arrow", count: int = KEEP_PER_KIND) -> None:
    """Keep the newest ``count`` entries of a kind in its folder ``entries`` (other processes may still
    be on an older version of the files)."""
    prefix = f"{_safe_kind(kind)}-"
    older = []
    with os.scandir(entries) as listing:
        for item in listing:
            if item.name != keep and item.name.startswith(prefix) and item.name.endswith(suffix):
                try:
                    older.append((item.stat().st_mtime_ns, item.path))
                except FileNotFoundError:  # another process pruned it first
                    continue
    for _, path in sorted(older, reverse=True)[count - 1:]:
        Path(path).unlink(missing_ok=True)


@dataclass(frozen=True)
class FolderInfo:
    folder: str
    entries: int
    size: int
    path: Path


def info() -> list[FolderInfo]:
    """What the cache holds: per watchlist folder, its entries and their size."""
    settle()
    root = cache_root()
    if not root.is_dir():
        return []
    result = []
    for entries in sorted(path for path in root.iterdir() if path.is_dir()):
        note = entries / FOLDER_NOTE
        files = [*entries.rglob("*.arrow"), *entries.rglob("answer-*.json")]
        result.append(FolderInfo(note.read_text(errors="replace") if note.exists() else "?", len(files),
                                 sum(path.stat().st_size for path in files), entries))
    return result


def clear() -> int:
    """Remove every entry (the cache is derived: nothing is lost); returns the number removed."""
    settle()
    removed = 0
    for item in info():
        removed += item.entries
        shutil.rmtree(item.path, ignore_errors=True)
    return removed
