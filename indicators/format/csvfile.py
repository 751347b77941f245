"""Reading CSV files as analysts really write them, with the physical line of every record.

Everything is read as text: validation decides what each cell means. The fast path parses with
pyarrow; a file whose records do not map one-to-one onto lines (quoted newlines, blank lines,
ragged rows) is parsed again with the standard ``csv`` module to get exact line numbers.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .problems import Problem

if TYPE_CHECKING:
    import pandas as pd

UTF8_BOM = b"\xef\xbb\xbf"
DECODE_CHUNK = 1 << 22
BLANK_FILE = re.compile(rb"(\xef\xbb\xbf)?\s*")
LINE_COLUMN = "_line"
# The csv module refuses fields over 128 KiB (a pasted long note). The limit is the process's: raised
# here, once, for every reader of watchlist files (the loader, the writers, the activity list).
FIELD_SIZE_LIMIT = (1 << 31) - 1
csv.field_size_limit(FIELD_SIZE_LIMIT)


@dataclass
class CsvTable:
    """A parsed CSV file: cells as text exactly as written (validation strips the spaces around
    them), a ``_line`` column, and the file's own layout."""

    frame: pd.DataFrame
    header: list[str]
    delimiter: str
    problems: list[Problem] = field(default_factory=list)
    sha256: str = ""  # of the bytes read, so a later write can tell whether the file changed since


def _file_problem(label: str, code: str, message: str, line: int | None = None) -> Problem:
    return Problem(label, line, "file", code, message)


def detect_delimiter(header_line: str) -> str:
    """Comma, unless the header line holds more semicolons or tabs (Excel's Dutch and German default)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > counts[","] else ","


def _binary_problem(label: str, raw: bytes) -> Problem | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _file_problem(label, "encoding", "is saved as UTF-16; save it as UTF-8 "
                             '(in Excel: Save As > "CSV UTF-8 (Comma delimited)")')
    if b"\x00" in raw:
        return _file_problem(label, "binary", "is a binary file, not CSV text; "
                             "export the sheet as CSV UTF-8 and save it under this name")
    return None


def _decode_problem(label: str, raw: bytes) -> Problem | None:
    """Where the file stops being UTF-8, if it does (pyarrow's parse already proves a clean file)."""
    # decode in chunks: the check must not hold a second copy of a large file in memory
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    for offset in range(0, len(raw), DECODE_CHUNK):
        try:
            decoder.decode(view[offset:offset + DECODE_CHUNK], final=offset + DECODE_CHUNK >= len(raw))
        except UnicodeDecodeError as error:
            position = offset + error.start
            line = raw.count(b"\n", 0, position) + 1
            return _file_problem(label, "encoding", f"byte 0x{raw[position]:02x} is not UTF-8 "
                                 "(the file is probably Windows-1252 or Latin-1); save it as UTF-8 "
                                 '(in Excel: Save As > "CSV UTF-8 (Comma delimited)")', line)
    return None


def in_background(work):
    """A future of ``work()`` run on a thread, for work that lets go of the GIL (hashing, pyarrow's
    parse) while this thread does something else."""
    global _threads
    if _threads is None:
        from concurrent.futures import ThreadPoolExecutor

        _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="watchfloor-read")
    return _threads.submit(work)


_threads = None


def done(value):
    """A finished future of ``value``, for work too small to be worth a thread."""
    from concurrent.futures import Future

    future = Future()
    future.set_result(value)
    return future


def _arrow_table(raw: bytes, start: int, header: list[str], delimiter: str, keep: list[int],
                 quoted: bool, coded: set[int]) -> tuple[object | None, list]:
    """(pyarrow's table of ``raw[start:]`` or None when it cannot parse it, the rows it could not split).
    The columns at positions ``coded`` come dictionary-encoded, by the parse's own threads."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid_rows = []

    def on_invalid(row):
        invalid_rows.append(row)
        return "skip"

    try:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(raw)[start:]),
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(header))], skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.dictionary(pa.int32(), pa.large_string())
                                                               if i in coded else pa.large_string() for i in keep},
                                                 include_columns=[f"c{i}" for i in keep],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        ), invalid_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None, invalid_rows


def _arrow_lines(raw: bytes, start: int, header: list[str], delimiter: str, keep: list[int], coded: set[int]):
    """pyarrow's table of ``raw[start:]`` (no copy), with the columns at positions ``keep`` (those at
    ``coded`` dictionary-encoded, one dictionary per column); None when records do not map one-to-one
    onto lines. The parse runs on a thread while this one counts quotes and lines (pyarrow lets go of
    the GIL). Needs no pandas."""
    quoted = raw.find(b'"', start) >= 0
    parsing = in_background(lambda: _arrow_table(raw, start, header, delimiter, keep, quoted, coded))
    unclosed = quoted and raw.count(b'"', start) % 2  # an odd number of quotes: one is unclosed
    newlines = raw.count(b"\n", start)
    table, invalid_rows = parsing.result()
    if unclosed or table is None:
        return None  # (pyarrow would close an unclosed quote at the end of the file)
    physical_lines = newlines + (0 if raw.endswith(b"\n") else 1)
    if invalid_rows or physical_lines != table.num_rows + 1:
        return None
    return table


def _wrapped(table) -> pd.DataFrame:
    """The arrow columns as pandas' str dtype, without copying (to_pandas would convert them); a
    dictionary-encoded column as a categorical of its dictionary."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    text = pd.StringDtype("pyarrow", na_value=np.nan)

    def wrapped(column):
        if not pa.types.is_dictionary(column.type):
            return pd.arrays.ArrowStringArray(column, dtype=text)
        whole = column.combine_chunks()  # one dictionary: the blocks' dictionaries are unified
        return pd.Categorical.from_codes(whole.indices.to_numpy(zero_copy_only=False), validate=False,
                                         categories=pd.Index(pd.arrays.ArrowStringArray(whole.dictionary,
                                                                                        dtype=text)))

    frame = pd.DataFrame({position: wrapped(column) for position, column in enumerate(table.columns)})
    frame[LINE_COLUMN] = pd.RangeIndex(2, table.num_rows + 2)
    return frame


def _parse_slow(text: str, header: list[str], delimiter: str, label: str,
                keep: list[int]) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse with the csv module in strict mode, so that an unclosed quote is reported where it
    opened, with the lines it would swallow, instead of silently merging them into one cell."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader, None)
    rows, lines, problems = [], [], []
    width = len(header)
    last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            line, start = start, reader.line_num + 1
            if "unexpected end of data" in str(error) or reader.line_num >= last_line:
                problems.append(Problem(label, line, "row", "unclosed_quote",
                                        f"a quoted cell opens here and is never closed: lines {line}-{last_line} "
                                        f"would be swallowed into it ({last_line - line + 1} lines); "
                                        "close the quote (write a quote inside a cell as two quotes)"))
                break
            problems.append(Problem(label, line, "row", "bad_quote",
                                    f"has a quote in the wrong place ({error}); quote the whole cell and "
                                    "write a quote inside it as two quotes"))
            continue
        line = start
        start = reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        if len(record) != width:
            spans = f" (the record spans lines {line}-{reader.line_num}: a quote may be unclosed)" \
                if reader.line_num > line else ""
            problems.append(Problem(label, line, "row", "wrong_field_count",
                                    f"has {len(record)} fields but the header has {width}{spans}; "
                                    "check for a missing or extra separator or an unclosed quote"))
            continue
        rows.append([record[i] for i in keep])
        lines.append(line)
    import pandas as pd

    frame = pd.DataFrame(rows, columns=range(len(keep)), dtype="str") if rows else pd.DataFrame(
        {i: pd.Series([], dtype="str") for i in range(len(keep))})
    frame[LINE_COLUMN] = pd.Series(lines, dtype="int64")
    return frame, problems


def read_csv_table(path: Path, label: str, required: tuple[str, ...], known: tuple[str, ...],
                   repeating: tuple[str, ...] = ()) -> CsvTable:
    """Read ``path`` as a CSV table; never raises for bad content (OSError when it cannot be read).

    Columns are renamed to their canonical lower-case names when they match ``known`` ignoring case
    and surrounding spaces; other columns keep their names. The table's ``problems`` say why it could
    not be read (then ``frame`` has no columns) or which records were malformed. The ``repeating``
    columns (dates, ids, grades: few distinct values) may come as categoricals, encoded while pyarrow
    parses; ``indicators.format.validation`` reads both kinds alike.
    """
    return _as_table(_read(path, label, required, known, repeating))


class PendingTable:
    """A CSV file being read on a thread: ``read_csv_table`` begun now and finished by ``table()``.

    The file is read, hashed and parsed by pyarrow without pandas, so a command can start reading
    before it imports the rest of the library. ``table()`` raises the OSError of a file that could
    not be read, as ``read_csv_table`` does."""

    def __init__(self, path: Path, label: str, required: tuple[str, ...], known: tuple[str, ...],
                 repeating: tuple[str, ...] = ()):
        import pyarrow.csv  # noqa: F401 - imported here, so that the reading thread imports nothing

        global _reading
        if _reading is None:
            from concurrent.futures import ThreadPoolExecutor

            # its own threads: a read waits on the hashing and the parse, which run on in_background's
            _reading = ThreadPoolExecutor(max_workers=READ_AHEAD_THREADS, thread_name_prefix="watchfloor-ahead")
        self._future = _reading.submit(_read, path, label, required, known, repeating)

    def table(self) -> CsvTable:
        return _as_table(self._future.result())


_reading = None
READ_AHEAD_THREADS = 3  # files read ahead at once: observations, events and judgments


@dataclass
class _Read:
    """What reading a file found before pandas is needed: the layout, the problems that stop it being
    a table (then ``keep`` is None), and pyarrow's table, or the text to parse slowly when it is None."""

    label: str
    header: list[str]
    delimiter: str
    problems: list[Problem]
    sha256: str = ""
    canonical: list[str] = field(default_factory=list)
    keep: list[int] | None = None
    arrow: object | None = None
    raw: bytes = b""
    start: int = 0


def _read(path: Path, label: str, required: tuple[str, ...], known: tuple[str, ...],
          repeating: tuple[str, ...]) -> _Read:
    raw = path.read_bytes()
    hashing = in_background(lambda: hashlib.sha256(raw).hexdigest())  # while the file is parsed
    read = _read_raw(raw, label, required, known, repeating)
    read.sha256 = hashing.result()
    return read


def _read_raw(raw: bytes, label: str, required: tuple[str, ...], known: tuple[str, ...],
              repeating: tuple[str, ...]) -> _Read:
    if BLANK_FILE.fullmatch(raw):
        return _Read(label, [], ",", [_file_problem(label, "empty", "is empty; it needs at least the header row: "
                                                    + ",".join(required))])
    problem = _binary_problem(label, raw)
    if problem:
        return _Read(label, [], ",", [problem])
    start = len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0
    end_of_header = raw.find(b"\n", start)
    try:
        first_line = raw[start:end_of_header if end_of_header >= 0 else len(raw)].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return _Read(label, [], ",", [_decode_problem(label, raw)])
    delimiter = detect_delimiter(first_line)
    header = next(csv.reader([first_line], delimiter=delimiter))
    read = _Read(label, header, delimiter, [])
    canonical = []
    for name in header:
        cleaned = name.strip()
        canonical.append(cleaned.lower() if cleaned.lower() in known else cleaned)
    missing = [name for name in required if name not in canonical]
    if missing:
        read.problems.append(Problem(label, 1, ", ".join(missing), "missing_column",
                                     f"the header has no {', '.join(missing)} column; it must name "
                                     f"{', '.join(required)} (found: {', '.join(header) or 'nothing'})"))
        return read
    seen: set[str] = set()
    duplicated = sorted({name for name in canonical if name in known and (name in seen or seen.add(name))})
    if duplicated:
        read.problems.append(Problem(label, 1, ", ".join(duplicated), "duplicate_column",
                                     "appears more than once in the header; keep one column of each name"))
        return read
    # only the columns Watchfloor reads (the first of each name): other columns are kept in the file
    # by the writers, which never rewrite a line, so a file 100,000 columns wide costs what its cells do
    first = {}
    for position, name in enumerate(canonical):
        if name in known:
            first.setdefault(name, position)
    read.canonical, read.keep, read.start = canonical, sorted(first.values()), start
    coded = {position for position in read.keep if canonical[position] in repeating}
    read.arrow = _arrow_lines(raw, start, header, delimiter, read.keep, coded)
    if read.arrow is None:
        read.raw = raw  # parsed again, slowly, for the line of each problem
    return read


def _as_table(read: _Read) -> CsvTable:
    import pandas as pd

    table = CsvTable(pd.DataFrame(), read.header, read.delimiter, list(read.problems), read.sha256)
    if read.keep is None:
        return table
    if read.arrow is not None:
        frame = _wrapped(read.arrow)
    else:
        problem = _decode_problem(read.label, read.raw)
        if problem:
            table.problems.append(problem)
            return table
        frame, row_problems = _parse_slow(read.raw[read.start:].decode("utf-8"), read.header, read.delimiter,
                                          read.label, read.keep)
        table.problems.extend(row_problems)
    frame.columns = [read.canonical[i] for i in read.keep] + [LINE_COLUMN]
    table.frame = frame
    return table


def empty_frame(columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """A frame with no rows and these ``(name, dtype)`` columns, for a file that gives none: a copy of
    one built once (building one costs about 2.5 ms, a copy 0.05 ms; a load may need three)."""
    return _empty_template(columns).copy()


@functools.cache
def _empty_template(columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns})
