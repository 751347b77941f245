"""Writing observations and events: locked, atomic, byte-preserving.

- An append adds one line and leaves every existing byte as it was: the file's BOM, line endings,
  delimiter, quoting and column order are kept, and a missing final newline is added first.
- An edit rewrites the one record it changes, writes the whole file to a temporary file, flushes it to
  disk and renames it over the old one; the previous version is kept under ``.history/``.
- Every writer takes a lock beside the file (``.NAME.lock``, group-writable so that every member of a
  shared folder can take it) that works across processes. A file that is a symbolic link is written
  through the link: the target changes, the link stays, the lock sits beside the target.
- An append that fails for any reason (a full disk, an I/O error) cuts the file back to its size
  before the append: no half line is left to be read as an observation.
- Temporary files left by a killed writer (``.NAME.*.tmp``) are removed by the next writer.
- A write that carries the snapshot the caller read is refused when the file changed since.
- Rows are checked by the same rules as the files; a rejected row writes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from filelock import FileLock

from ..format.csvfile import LINE_COLUMN, UTF8_BOM, detect_delimiter
from ..format.definitions import load_definitions
from ..format.folder import (AUDIT_COLUMNS, EVENT_COLUMNS, EVENTS_FILE, JUDGMENT_COLUMNS, JUDGMENTS_FILE,
                             OBSERVATION_COLUMNS, OBSERVATIONS_FILE, PLACE_COLUMNS)
from ..format.judgments import check_judgments
from ..format.places import NOT_ON_MAP, read_places
from ..format.problems import Problem
from ..format.validation import check_events, check_observations
from .snapshot import FileSnapshot

COLUMNS_OF = {"observation": OBSERVATION_COLUMNS, "event": EVENT_COLUMNS, "judgment": JUDGMENT_COLUMNS}
HISTORY_FOLDER = ".history"
LOCK_TIMEOUT_SECONDS = 30
LOCK_POLL_SECONDS = 0.005


class WriteRefused(Exception):
    """The write did not happen; the message says why and what to do."""


class RowRejected(WriteRefused):
    """The row breaks the file rules; ``problems`` says which field and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass(frozen=True)
class Layout:
    """How a CSV file is written: kept for every line added or changed."""

    bom: bool
    newline: str
    delimiter: str
    header: list[str]
    ends_with_newline: bool


def file_lock(path: Path) -> FileLock:
    """The lock beside ``path``. In a folder its group may write to (a shared folder), the lock file
    is group-writable too, whatever the umask, so that a colleague can take it after us."""
    shared = path.parent.stat().st_mode & 0o020
    # a short poll: a writer waiting behind others in a busy loop gets its turn (the lock is held for
    # milliseconds: read, check, append)
    return FileLock(str(path.parent / f".{path.name}.lock"), timeout=LOCK_TIMEOUT_SECONDS,
                    mode=0o664 if shared else 0o644, poll_interval=LOCK_POLL_SECONDS)


def target_of(path: Path) -> Path:
    """The file a write really changes: a symbolic link is followed, so the link itself stays."""
    return Path(os.path.realpath(path))


def _remove_leftovers(path: Path) -> None:
    """Remove temporary files a killed writer left beside ``path`` (call with the lock held: no
    live writer of this file can own one then)."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass


def read_layout(data: bytes, default_columns: tuple[str, ...]) -> Layout:
    bom = data.startswith(UTF8_BOM)
    body = data[len(UTF8_BOM):] if bom else data
    text = body.decode("utf-8")
    if not text.strip():
        return Layout(bom, "\n", ",", list(default_columns), True)
    first_line = text.split("\n", 1)[0]
    newline = "\r\n" if first_line.endswith("\r") else "\n"
    first_line = first_line.rstrip("\r")
    delimiter = detect_delimiter(first_line)
    header = next(csv.reader([first_line], delimiter=delimiter))
    return Layout(bom, newline, delimiter, header, body.endswith(b"\n"))


def format_line(layout: Layout, values: dict[str, str]) -> str:
    """One CSV record in the file's own layout, with its newline; columns matched ignoring case and spaces."""
    by_name = {name.lower(): str(value) for name, value in values.items()}
    missing = [name for name, value in values.items() if value not in ("", None)
               and name.lower() not in {column.strip().lower() for column in layout.header}]
    if missing:
        raise WriteRefused(f"the file has no {', '.join(missing)} column; add it to the header line "
                           "or leave it empty")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=layout.delimiter, lineterminator=layout.newline).writerow(
        [by_name.get(column.strip().lower(), "") for column in layout.header])
    return buffer.getvalue()


def _check_unchanged(path: Path, expected: FileSnapshot | None) -> None:
    if expected is None:
        return
    if not expected.matches(path):
        raise WriteRefused(f"{path.name} changed on disk since it was read (another program or person saved it); "
                           "nothing was written. Reload and try again.")


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _checks_for(kind: str, folder: Path) -> tuple:
    """What a new row is checked against (the definitions, the places), read before the file's lock is
    taken: they are other files, and the lock is held only while this file is read, checked and appended."""
    definitions = load_definitions(folder) if kind in ("judgment", "observation") else None
    return definitions, (read_places(folder) if kind != "judgment" else None)


def _validate(kind: str, checks: tuple, layout: Layout, values: dict[str, str], today: dt.date) -> None:
    definitions, places = checks
    columns = [name.strip().lower() for name in layout.header]
    cells = {name: str(values.get(name, "") or "").strip() for name in columns}
    controls = [Problem("", None, name, "control_character",
                        f"contains the control character {_shown(match.group())}; remove it (a NUL would make "
                        "the whole file unreadable)")
                for name, cell in cells.items() for match in [CONTROL_CHARACTERS.search(cell)] if match]
    if controls:
        raise RowRejected(controls)
    if definitions is not None and definitions.watchlist is None:
        raise WriteRefused("watchlist.yaml cannot be used; fix it first (watchfloor validate)")
    frame = pd.DataFrame({name: [cells[name]] for name in columns}, dtype="str")
    frame[LINE_COLUMN] = 0
    if kind == "judgment":
        _, problems = check_judgments(frame, definitions.watchlist, today, typed=False)
    elif kind == "observation":
        _, problems = check_observations(frame, definitions.watchlist, definitions.invalid_indicator_ids, today,
                                         places, typed=False)
        fed = {i.id: i.feed.name for i in definitions.watchlist.indicators if i.feed is not None}
        if cells.get("indicator") in fed:
            problems.append(Problem("", None, "indicator", "fed_indicator",
                                    f'"{cells["indicator"]}" takes its rows from feed {fed[cells["indicator"]]}; '
                                    "its rows are read-only here: add the event to the feed's files instead"))
    else:
        _, problems = check_events(frame, places, typed=False)
    if problems:  # a refused row is not written at all: "counts but is not on the map" does not apply
        raise RowRejected([Problem(p.file, p.line, p.field, p.code, p.message.removesuffix(f"; {NOT_ON_MAP}"))
                           for p in problems])


def _shown(character: str) -> str:
    return "NUL" if character == "\x00" else f"\\x{ord(character):02x}"


def new_file_columns(columns: tuple[str, ...], values: dict[str, str]) -> tuple[str, ...]:
    """The header of a file created for ``values``: a placed row brings the place columns."""
    if any(str(values.get(name) or "").strip() for name in PLACE_COLUMNS):
        return columns + PLACE_COLUMNS
    return columns


def preview_line(path: Path, values: dict[str, str], columns: tuple[str, ...] = OBSERVATION_COLUMNS) -> str:
    """The exact text an append of ``values`` would add (without a newline that may precede it)."""
    data = path.read_bytes() if path.exists() else b""
    return format_line(read_layout(data, new_file_columns(columns, values)), values)


def identical_observations(observations: pd.DataFrame, values: dict[str, str]) -> list[int]:
    """Lines of the loaded rows that say exactly what ``values`` would add (same date, indicator,
    value, source, link, grades, status, reported date and note): a likely double entry."""
    try:
        date = pd.Timestamp(values.get("date", ""))
        reported = pd.Timestamp(values.get("reported") or values.get("date", ""))
        value = float(values["value"]) if str(values.get("value", "")).strip() else float("nan")
    except (ValueError, TypeError):
        return []
    rows = observations[(observations["indicator"].astype(str) == values.get("indicator", ""))
                        & (observations["date"] == date) & (observations["reported"] == reported)]
    same_value = (rows["value"] == value) | (rows["value"].isna() & (value != value))
    rows = rows[same_value.to_numpy()]
    wanted = {"source": values.get("source", ""), "url": values.get("url", ""),
              "reliability": values.get("reliability", "").upper(), "credibility": values.get("credibility", ""),
              "status": (values.get("status") or "reported").lower(), "note": values.get("note", "")}
    for column, text in wanted.items():
        rows = rows[rows[column].fillna("").astype(str).str.strip().to_numpy() == text.strip()]
    return [int(line) for line in rows["line"]]


def has_audit_columns(layout: Layout) -> bool:
    names = {column.strip().lower() for column in layout.header}
    return all(column in names for column in AUDIT_COLUMNS)


def stamped(layout: Layout, values: dict[str, str], entered_by: str | None) -> dict[str, str]:
    """``values`` with ``entered_by`` and ``entered_at`` (UTC) when the file has those columns; a file
    without them keeps its layout (``watchfloor upgrade`` adds them)."""
    if not has_audit_columns(layout):
        return values
    moment = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**values, "entered_by": entered_by or "", "entered_at": moment}


def _append(kind: str, path: Path, values: dict[str, str], expected: FileSnapshot | None,
            today: dt.date | None, entered_by: str | None = None) -> str:
    columns = new_file_columns(COLUMNS_OF[kind], values)
    folder, path = path.parent, target_of(path)
    checks = _checks_for(kind, folder)
    with file_lock(path):
        _check_unchanged(path, expected)
        _remove_leftovers(path)
        data = path.read_bytes() if path.exists() else b""
        layout = read_layout(data, columns)
        _validate(kind, checks, layout, values, today or dt.date.today())
        line = format_line(layout, stamped(layout, values, entered_by))
        prefix = ""
        if not data.strip(UTF8_BOM):
            prefix = format_line(layout, {name: name for name in layout.header})  # a new file gets its header
        elif not layout.ends_with_newline:
            prefix = layout.newline
        append_bytes(path, (prefix + line).encode("utf-8"), len(data))
        return line


def append_bytes(path: Path, payload: bytes, size_before: int) -> None:
    """Append ``payload`` and flush it to disk; on any failure (ENOSPC, EIO, an interrupt) cut the
    file back to ``size_before`` bytes, so that it is byte for byte as it was."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        written = 0
        while written < len(payload):
            written += os.write(descriptor, payload[written:])
        os.fsync(descriptor)
    except BaseException as error:
        os.ftruncate(descriptor, size_before)
        os.fsync(descriptor)
        if isinstance(error, OSError) and not error.filename:
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    finally:
        os.close(descriptor)


def append_observation(folder: Path, values: dict[str, str], expected: FileSnapshot | None = None,
                       today: dt.date | None = None, entered_by: str | None = None) -> str:
    """Append one observation to ``folder/observations.csv``; returns the line written."""
    return _append("observation", Path(folder) / OBSERVATIONS_FILE, values, expected, today, entered_by)


def append_event(folder: Path, values: dict[str, str], expected: FileSnapshot | None = None,
                 entered_by: str | None = None) -> str:
    """Append one event to ``folder/events.csv`` (created with its header when missing)."""
    return _append("event", Path(folder) / EVENTS_FILE, values, expected, None, entered_by)


def append_judgment(folder: Path, values: dict[str, str], expected: FileSnapshot | None = None,
                    today: dt.date | None = None, entered_by: str | None = None) -> str:
    """Append one estimative judgment to ``folder/judgments.csv`` (created with its header when missing)."""
    return _append("judgment", Path(folder) / JUDGMENTS_FILE, values, expected, today, entered_by)


def record_spans(text: str, delimiter: str) -> dict[int, tuple[int, int, list[str]]]:
    """{physical start line: (start offset, end offset, cells)} for every record after the header."""
    # line breaks as the csv module counts them (not str.splitlines, which also breaks on U+2028 etc.)
    offsets = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]
    if offsets[-1] < len(text):
        offsets.append(len(text))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    spans = {}
    start = 1
    for cells in reader:
        end = reader.line_num
        if start > 1 and cells:
            spans[start] = (offsets[start - 1], offsets[end], cells)
        start = end + 1
    return spans


def keep_history(path: Path, data: bytes) -> Path:
    """Save the previous version of a file as .history/NAME.YYYYMMDDTHHMMSSffffff before it is
    replaced: written to a temporary file and renamed, so a copy is whole or absent."""
    folder = path.parent / HISTORY_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{path.name}.{stamp}"
    _remove_leftovers(target.parent / path.name)  # history copies of this file: .NAME.*.tmp in .history/
    replace_atomically(target, data, mode_from=path)
    return target


def replace_atomically(path: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, and rename it over ``path``
    (with the permissions of ``path``, or of ``mode_from`` for a new file when given)."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        elif mode_from is not None and mode_from.exists():
            os.chmod(temporary, mode_from.stat().st_mode & 0o777)
        else:  # mkstemp creates 0600; a new file gets the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def edit_observation(folder: Path, line: int, changes: dict[str, str], expected: FileSnapshot | None = None,
                     today: dt.date | None = None, entered_by: str | None = None) -> str:
    """Change cells of the observation whose record starts on ``line``; returns the new line.

    Only that record's bytes change. To confirm, dispute or retract a row, change its ``status``: the
    row is kept. The previous file is saved under ``.history/`` first.
    """
    folder = Path(folder)
    path = target_of(folder / OBSERVATIONS_FILE)
    checks = _checks_for("observation", folder)
    with file_lock(path):
        _check_unchanged(path, expected)
        _remove_leftovers(path)
        data = path.read_bytes()
        layout = read_layout(data, OBSERVATION_COLUMNS)
        bom = UTF8_BOM if layout.bom else b""
        text = data[len(bom):].decode("utf-8")
        span = record_spans(text, layout.delimiter).get(line)
        if span is None:
            raise WriteRefused(f"{OBSERVATIONS_FILE} has no record starting on line {line}; reload and try again")
        start, end, cells = span
        columns = [name.strip().lower() for name in layout.header]
        values = dict(zip(columns, cells))
        values.update({name.lower(): value for name, value in changes.items()})
        _validate("observation", checks, layout, values, today or dt.date.today())
        new_line = format_line(layout, stamped(layout, values, entered_by))
        if not text[start:end].endswith(("\n", "\r")):
            new_line = new_line.rstrip("\r\n")  # the last record had no final newline: keep it so
        keep_history(path, data)
        replace_atomically(path, bom + (text[:start] + new_line + text[end:]).encode("utf-8"))
        return new_line


def upgrade_file(path: Path, columns: tuple[str, ...]) -> bool:
    """Add the ``entered_by`` and ``entered_at`` columns to a file that lacks them: the header gains
    them and every record two empty cells (the only rewrite of a header Watchfloor makes). The
    previous file goes to ``.history/``; the write is atomic. False when there was nothing to do."""
    path = target_of(path)
    if not path.exists():
        return False
    with file_lock(path):
        _remove_leftovers(path)
        data = path.read_bytes()
        layout = read_layout(data, columns)
        if has_audit_columns(layout):
            return False
        bom = UTF8_BOM if layout.bom else b""
        text = data[len(bom):].decode("utf-8")
        header_end = re.search(r"\r\n|\n|\r|$", text).start()
        extra = layout.delimiter + layout.delimiter.join(
            name for name in AUDIT_COLUMNS if name not in {c.strip().lower() for c in layout.header})
        empty = layout.delimiter * (len(extra.split(layout.delimiter)) - 1)
        pieces, position = [text[:header_end] + extra], header_end
        for start, end, _ in sorted(record_spans(text, layout.delimiter).values()):
            record = text[start:end]
            body = record.rstrip("\r\n")
            pieces.append(text[position:start] + body + empty + record[len(body):])
            position = end
        pieces.append(text[position:])
        keep_history(path, data)
        replace_atomically(path, bom + "".join(pieces).encode("utf-8"))
        return True
