"""Feed files: which files a feed's ``path`` matches, and how each is made safe to hand to the engine.

Every file is prepared alone, in Python, before any engine sees it, so that one bad file is named
in one sentence and left out while the others are read:

- a zip is checked (one member, not encrypted, a compression Python can unpack) and unpacked to a
  private scratch folder, bounded by a ratio to its own size and by a size limit
  (``WATCHFLOOR_UNPACK_RATIO``, ``WATCHFLOOR_UNPACK_LIMIT``); reading never writes into the watchlist;
- a gzip file is read through once, so that a damaged or cut-short one is named before the engine
  meets it;
- text that is not UTF-8 (or is in the feed's declared ``encoding``) is copied to scratch as UTF-8,
  each line that does not decode named and read with U+FFFD in place of the bad bytes;
- the engine is given each file through a link of a plain name in scratch (``f000001.csv``): a file
  whose name holds ``*``, ``?`` or ``[x]`` is read as itself, never as a pattern.

A file that resolves outside the watchlist folder (a linked export folder) is ``outside``: messages
about it name the file and line but never quote its content.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..format.models import Feed, Watchlist
from ..format.problems import Problem

FEED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".zip")
TABLE_REFRESH_SECONDS = 600
UNPACK_RATIO_VARIABLE = "WATCHFLOOR_UNPACK_RATIO"
UNPACK_LIMIT_VARIABLE = "WATCHFLOOR_UNPACK_LIMIT"
DEFAULT_UNPACK_RATIO = 100.0
DEFAULT_UNPACK_LIMIT = 2 << 30  # 2 GiB
RATIO_FLOOR_BYTES = 1 << 20  # a small file may always unpack to a megabyte, whatever its ratio
MAX_DECODING_LINES = 20  # further lines that do not decode are summed up in one problem
CHUNK = 1 << 23
ZIP_METHODS = {9: "Deflate64", 93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd",
               99: "AES encryption"}
UNPACKABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that did not decode (surrogateescape)
LEFT_OUT = "; the file is left out"


@dataclass(frozen=True)
class FeedFile:
    path: Path
    label: str  # as shown: relative to the watchlist folder
    size: int
    mtime_ns: int
    outside: bool = False  # resolves outside the watchlist folder: never quote its content

    @property
    def kind(self) -> str:
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return "parquet"
        if name.endswith(".zip"):
            return "zip"
        return "tsv" if name.endswith((".tsv", ".tsv.gz")) else "csv"

    @property
    def gzipped(self) -> bool:
        return self.path.name.lower().endswith(".gz")


class FileLeftOut(Exception):
    """A feed file that cannot be read as a whole; the message says why in one sentence."""


@dataclass
class Prepared:
    """A feed file ready for the engine: ``readable`` is the file itself or a UTF-8 copy in scratch."""

    file: FeedFile
    readable: Path
    problems: list[Problem] = field(default_factory=list)  # lines that did not decode
    temporary: bool = False  # readable lives in scratch and goes after the batch

    @property
    def gzipped(self) -> bool:
        return not self.temporary and self.file.gzipped

    def release(self) -> None:
        if self.temporary:
            self.readable.unlink(missing_ok=True)


# ---------------------------------------------------------------- which files


def inside_folder(path: Path, real_folder: Path) -> bool:
    """The file, links followed, lies in the watchlist folder (``real_folder``: the folder resolved)."""
    try:
        return path.resolve().is_relative_to(real_folder)
    except OSError:
        return False


def feed_files(folder: Path, name: str, feed: Feed) -> tuple[list[FeedFile], list[Problem]]:
    """The files a feed's ``path`` glob matches, sorted, with a problem when none or a wrong kind."""
    if feed.path is None:
        return [], []
    deletion_files = set(folder.glob(feed.deletions)) if feed.deletions else set()
    matched = sorted(path for path in folder.glob(feed.path) if path.is_file() and path not in deletion_files)
    problems, files = [], []
    real_folder = folder.resolve()
    for path in matched:
        label = path.relative_to(folder).as_posix()
        if not path.name.lower().endswith(FEED_SUFFIXES):
            problems.append(Problem(label, None, "file", "feed_file_kind",
                                    f"is matched by feed {name}'s path but is not a .csv, .csv.gz, .tsv, .parquet or "
                                    ".zip file; narrow the path or rename the file"))
            continue
        stat = path.stat()
        files.append(FeedFile(path, label, stat.st_size, stat.st_mtime_ns, not inside_folder(path, real_folder)))
    if not matched:
        problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.path", "feed_no_files",
                                f'"{feed.path}" matches no file in {folder.name}/; drop an export there or fix the path'))
    return files, problems


def feeds_signature(folder: Path, watchlist: Watchlist | None) -> tuple:
    """(label, size, mtime) of every feed file: a new or re-saved export changes it."""
    if watchlist is None:
        return ()
    signature = []
    for name, feed in watchlist.feeds.items():
        if feed.table is not None:  # a warehouse table has no file to watch: read it again every 10 minutes
            signature.append((name, feed.table, int(time.time() // TABLE_REFRESH_SECONDS)))
        for pattern in (feed.path, feed.deletions):
            if pattern:
                for path in sorted(folder.glob(pattern)):
                    if path.is_file():
                        stat = path.stat()
                        signature.append((name, path.relative_to(folder).as_posix(), stat.st_size,
                                          stat.st_mtime_ns))
    return tuple(signature)


# ---------------------------------------------------------------- scratch and limits


_scratch: list[Path] = []


def scratch_folder() -> Path:
    """This process's private scratch folder (outside every watchlist), removed at exit."""
    if not _scratch:
        folder = Path(tempfile.mkdtemp(prefix="watchfloor-feeds-"))
        _scratch.append(folder)
        atexit.register(shutil.rmtree, folder, True)
    return _scratch[0]


def run_folder() -> Path:
    """A fresh folder in scratch for one feed run (its links, copies and staged results)."""
    return Path(tempfile.mkdtemp(prefix="run-", dir=scratch_folder()))


@dataclass(frozen=True)
class UnpackLimits:
    ratio: float = DEFAULT_UNPACK_RATIO  # unpacked bytes per packed byte
    limit: int = DEFAULT_UNPACK_LIMIT  # unpacked bytes of one file in all

    def budget(self, packed: int) -> tuple[int, str]:
        """The bytes one file of ``packed`` bytes may unpack to, and which limit that is."""
        by_ratio = max(int(self.ratio * packed), RATIO_FLOOR_BYTES)
        return (by_ratio, "ratio") if by_ratio < self.limit else (self.limit, "limit")


def parse_size(text: str) -> int | None:
    """Bytes from "2GB", "500 MB", "1048576"; None when it is not a size."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not found:
        return None
    return int(float(found.group(1)) * 1024 ** " kmgt".index(found.group(2) or " "))


def unpack_limits() -> tuple[UnpackLimits, list[Problem]]:
    """The limits from the environment (defaults 100 and 2 GB), and a problem for a value that is not one."""
    problems, ratio, limit = [], DEFAULT_UNPACK_RATIO, DEFAULT_UNPACK_LIMIT
    ratio_text = os.environ.get(UNPACK_RATIO_VARIABLE, "").strip()
    if ratio_text:
        try:
            ratio = float(ratio_text)
            if not 1 <= ratio < float("inf"):
                raise ValueError
        except ValueError:
            ratio = DEFAULT_UNPACK_RATIO
            problems.append(Problem("environment", None, UNPACK_RATIO_VARIABLE, "feed_setting",
                                    f'"{ratio_text}" is not a ratio of at least 1; using {DEFAULT_UNPACK_RATIO:g}'))
    limit_text = os.environ.get(UNPACK_LIMIT_VARIABLE, "").strip()
    if limit_text:
        parsed = parse_size(limit_text)
        if parsed is None or parsed < RATIO_FLOOR_BYTES:
            problems.append(Problem("environment", None, UNPACK_LIMIT_VARIABLE, "feed_setting",
                                    f'"{limit_text}" is not a size of at least 1MB (write e.g. 2GB or 500MB); using '
                                    f"{describe_size(DEFAULT_UNPACK_LIMIT)}"))
        else:
            limit = parsed
    return UnpackLimits(ratio, limit), problems


def describe_size(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 10 else f"{value:.0f} {unit}"
    return f"{size} bytes"


class _Bounded(io.RawIOBase):
    """A file written in scratch that refuses to grow past ``budget`` bytes."""

    def __init__(self, path: Path, budget: int):
        self.handle = open(path, "wb")  # noqa: SIM115 - closed with this object
        self.budget, self.written = budget, 0

    def write(self, data) -> int:
        self.written += len(data)
        if self.written > self.budget:
            raise _Exceeded()
        return self.handle.write(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


class _Exceeded(Exception):
    pass


def _limit_sentence(file: FeedFile, limits: UnpackLimits, verb: str) -> str:
    budget, which = limits.budget(file.size)
    if which == "ratio":
        return (f"{verb} to more than {limits.ratio:g} times its own size ({describe_size(file.size)}); an archive "
                f"that expands this much is refused (set {UNPACK_RATIO_VARIABLE} higher if the file is genuine)"
                + LEFT_OUT)
    return (f"{verb} to more than {describe_size(budget)}, the limit for one feed file (set "
            f"{UNPACK_LIMIT_VARIABLE} higher if the file is genuine)" + LEFT_OUT)


# ---------------------------------------------------------------- preparing one file


def prepare_file(file: FeedFile, encoding: str | None, scratch: Path, number: int,
                 limits: UnpackLimits) -> Prepared:
    """``file`` made ready for the engine (see the module's description); raises FileLeftOut."""
    if file.kind == "parquet":
        _check_parquet(file)
        return Prepared(file, file.path)
    suffix = ".tsv" if file.kind == "tsv" else ".csv"
    if file.kind == "zip":
        unpacked = scratch / f"u{number:06d}{suffix}"
        _unpack(file, unpacked, limits)
        try:
            return _as_utf8(file, unpacked, encoding, scratch / f"t{number:06d}{suffix}", limits, unpacked=True)
        except BaseException:
            unpacked.unlink(missing_ok=True)
            raise
    return _as_utf8(file, file.path, encoding, scratch / f"t{number:06d}{suffix}", limits, unpacked=False)


def _check_parquet(file: FeedFile) -> None:
    import pyarrow.parquet as pq

    try:
        pq.read_schema(file.path)
    except (OSError, ValueError, EOFError):  # ArrowInvalid is a ValueError
        raise FileLeftOut("is not a readable Parquet file (damaged, cut short, or not Parquet)" + LEFT_OUT) from None


def _unpack(file: FeedFile, target: Path, limits: UnpackLimits) -> None:
    """The one member of a zip, unpacked to ``target`` within the limits."""
    try:
        archive = zipfile.ZipFile(file.path)
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise FileLeftOut("is not a readable zip file (damaged, cut short, or not a zip)" + LEFT_OUT) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1:
            raise FileLeftOut(f"holds {len(members)} files; a feed zip must hold exactly one CSV" + LEFT_OUT)
        member = members[0]
        if member.flag_bits & 0x1:
            raise FileLeftOut("is encrypted (password-protected), and Watchfloor does not unpack encrypted zips: "
                              "unpack it yourself or export it again without a password" + LEFT_OUT)
        if member.compress_type not in UNPACKABLE:
            method = ZIP_METHODS.get(member.compress_type, f"compression method {member.compress_type}")
            raise FileLeftOut(f"is compressed with {method}, which Watchfloor cannot unpack: unpack it yourself or "
                              "pack it again with ordinary Deflate" + LEFT_OUT)
        budget, _ = limits.budget(file.size)
        if member.file_size > budget:
            raise FileLeftOut(_limit_sentence(file, limits, "unpacks"))
        _copy_bounded(file, lambda: archive.open(member), target, budget, limits, "unpacks")


def _copy_bounded(file: FeedFile, opener, target: Path, budget: int, limits: UnpackLimits, verb: str) -> None:
    sink = _Bounded(target, budget)
    try:
        with opener() as source:
            while chunk := source.read(CHUNK):
                sink.write(chunk)
    except _Exceeded:
        sink.close()
        target.unlink(missing_ok=True)
        raise FileLeftOut(_limit_sentence(file, limits, verb)) from None
    except BaseException as error:
        sink.close()
        target.unlink(missing_ok=True)
        if isinstance(error, (zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile)):
            raise FileLeftOut(_damaged(file, error)) from None
        raise
    sink.close()


def _damaged(file: FeedFile, error: BaseException) -> str:
    what = "zip" if file.kind == "zip" else "gzip"
    if isinstance(error, EOFError):
        return f"is cut short (its {what} data ends before its end marker: an unfinished download?)" + LEFT_OUT
    if "crc" in str(error).lower():
        return f"is damaged (its content fails the {what} checksum)" + LEFT_OUT
    if isinstance(error, gzip.BadGzipFile) and "not a gzipped file" in str(error).lower():
        return "is not a gzip file, although its name ends in .gz" + LEFT_OUT
    return f"is damaged (its {what} data cannot be unpacked)" + LEFT_OUT


def _open_bytes(file: FeedFile, path: Path, unpacked: bool):
    return gzip.open(path) if file.gzipped and not unpacked else open(path, "rb")


def _is_utf8(file: FeedFile, path: Path, unpacked: bool) -> bool:
    """Reads the file through once: True when it is UTF-8 (a damaged gzip is named on the way)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open_bytes(file, path, unpacked) as handle:
            while chunk := handle.read(CHUNK):
                if not (chunk.isascii() and not decoder.getstate()[0]):  # ASCII is UTF-8: checked 20x faster
                    decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise FileLeftOut(_damaged(file, error)) from None
    return True


def _as_utf8(file: FeedFile, path: Path, encoding: str | None, target: Path, limits: UnpackLimits,
             unpacked: bool) -> Prepared:
    """The file itself when it is UTF-8 already, else a UTF-8 copy in scratch with every line that did
    not decode named (first ``MAX_DECODING_LINES``) and U+FFFD in place of its bad bytes."""
    declared = encoding is not None and codecs.lookup(encoding).name != "utf-8"
    if not declared and _is_utf8(file, path, unpacked):
        return Prepared(file, path, temporary=unpacked)
    budget, _ = limits.budget(file.size)
    problems, bad_lines = [], 0
    sink = _Bounded(target, budget)
    try:
        with _open_bytes(file, path, unpacked) as raw:
            text = io.TextIOWrapper(raw, encoding=encoding or "utf-8", errors="surrogateescape", newline="")
            for number, line in enumerate(text, start=1):
                if ESCAPED.search(line):
                    bad_lines += 1
                    if bad_lines <= MAX_DECODING_LINES:
                        problems.append(_decoding_problem(file, number, line, encoding))
                    line = ESCAPED.sub("\ufffd", line)
                sink.write(line.encode("utf-8"))
    except _Exceeded:
        sink.close()
        target.unlink(missing_ok=True)
        raise FileLeftOut(_limit_sentence(file, limits, "decodes" if not file.gzipped else "unpacks")) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        sink.close()
        target.unlink(missing_ok=True)
        raise FileLeftOut(_damaged(file, error)) from None
    except BaseException:
        sink.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        if unpacked:
            path.unlink(missing_ok=True)
    sink.close()
    if bad_lines > MAX_DECODING_LINES:
        problems.append(Problem(file.label, None, "encoding", "feed_decoding",
                                f"{bad_lines - MAX_DECODING_LINES} more lines do not decode as "
                                f"{encoding or 'UTF-8'}; they are read with U+FFFD in place of the bad bytes"))
    return Prepared(file, target, problems, temporary=True)


def _decoding_problem(file: FeedFile, number: int, line: str, encoding: str | None) -> Problem:
    byte = "" if file.outside else f" (byte 0x{ord(ESCAPED.search(line).group()) - 0xDC00:02x})"
    if encoding is None:
        fix = ("save the file as UTF-8, or give the feed's encoding in watchlist.yaml (e.g. encoding: cp1252)")
        return Problem(file.label, number, "encoding", "feed_decoding",
                       f"is not UTF-8 here{byte}; the line is read with U+FFFD in place of the bad bytes: {fix}")
    return Problem(file.label, number, "encoding", "feed_decoding",
                   f"does not decode as {encoding} here{byte}; the line is read with U+FFFD in place of the bad bytes: "
                   "check the feed's encoding")


def open_text(file: FeedFile, encoding: str | None = None):
    """The file's text (the member of a zip, the content of a gzip), for finding lines: never fails on
    a byte that does not decode."""
    if file.kind == "zip":
        archive = zipfile.ZipFile(file.path)
        member = next(info for info in archive.infolist() if not info.is_dir())
        raw = archive.open(member)
    elif file.gzipped:
        raw = gzip.open(file.path)
    else:
        raw = open(file.path, "rb")  # noqa: SIM115 - closed with the wrapper
    return io.TextIOWrapper(raw, encoding=encoding or "utf-8-sig", errors="replace", newline="")


def header_of(prepared: Prepared, delimiter: str) -> list[str]:
    """The header cells of a prepared file (a Parquet file's column names)."""
    if prepared.file.kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(prepared.readable).names)
    opener = gzip.open if prepared.gzipped else open
    with opener(prepared.readable, "rt", encoding="utf-8-sig", newline="", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=delimiter), [])


def first_line_fields(prepared: Prepared) -> int:
    opener = gzip.open if prepared.gzipped else open
    with opener(prepared.readable, "rt", encoding="utf-8-sig", newline="", errors="replace") as handle:
        return len(handle.readline().rstrip("\r\n").split("\t"))


def engine_link(prepared: Prepared, scratch: Path, number: int) -> Path:
    """A link of a plain name to what the engine reads: no name is ever taken as a glob pattern."""
    name = prepared.readable.name.lower()
    suffix = next((s for s in (".csv.gz", ".tsv.gz", ".parquet") if name.endswith(s)),
                  ".tsv" if prepared.file.kind == "tsv" else ".csv")
    link = scratch / f"f{number:06d}{suffix}"
    os.symlink(prepared.readable.absolute(), link)
    return link
