"""Remembered answers: a read-only command (``watchfloor status``) run again on unchanged files prints
what it printed before, without reading, checking or evaluating a row, and without importing pandas.

An answer is part of the derived cache (``cache.py``: same folder, same trust rules) and is kept under
a key of everything it can depend on:

- the command and its options, as given;
- today's date (a watchlist without ``as_of`` is evaluated on today) and the settings in the
  environment whose names start with ``WATCHFLOOR_`` or ``SPARK_``;
- the code (``cache.code_version``: the library's code, Python's version, the installed packages);
- every file under the watchlist folder, links followed, by its path and ``cache.file_key`` (size,
  modification and change time, inode, a hash of its first and last 64 KiB): any change anywhere in
  the folder (an edit, an append, a touch, a new or removed file) makes a new key.

An answer is kept only when the folder's files were the same before and after it was worked out (a
file written meanwhile could have been read half old, half new). A folder of more than
``MAX_FILES`` files is not remembered (checking it would cost more than it saves). Imports nothing
heavy: a remembered answer costs a walk of the folder and one small read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import cache

MAX_FILES = 2000
KEEP = 8  # answers kept per watchlist folder (several dates, text and JSON)
ENVIRONMENT_PREFIXES = ("WATCHFLOOR_", "SPARK_")
# where the cache is kept and whether it is on do not change an answer
IGNORED_SETTINGS = (cache.CACHE_VARIABLE, cache.NO_CACHE_VARIABLE)


@dataclass(frozen=True)
class Answer:
    output: str  # what went to standard output
    errors: str  # what went to standard error
    exit_code: int


def folder_key(folder: Path) -> list | None:
    """Every file under ``folder`` (links followed, each real folder once) with its ``file_key``, in
    path order; None when the folder cannot be walked, holds more than ``MAX_FILES`` files, or a
    file vanishes while it is looked at."""
    root = Path(folder)
    if not root.is_dir():
        return None
    files: list = []
    seen: set[str] = set()
    for current, folders, names in os.walk(root, followlinks=True, onerror=_raise):
        real = os.path.realpath(current)
        if real in seen:  # a link back up the tree
            folders[:] = []
            continue
        seen.add(real)
        folders.sort()
        for name in sorted(names):
            path = Path(current, name)
            if not path.is_file():
                continue
            if len(files) >= MAX_FILES:
                return None
            key = cache.file_key(path)
            if key is None:
                return None
            files.append([path.relative_to(root).as_posix(), key])
    return files


def _raise(error: OSError) -> None:
    raise error


def _answer_key(command: str, options: dict, files: list) -> str:
    settings = {name: value for name, value in os.environ.items()
                if name.startswith(ENVIRONMENT_PREFIXES) and name not in IGNORED_SETTINGS}
    return json.dumps({"command": command, "options": options, "today": dt.date.today().isoformat(),
                       "settings": settings, "code": cache.code_version(), "files": files}, sort_keys=True,
                      default=str)


def _answer_path(folder: Path, key: str) -> Path:
    return cache.kind_folder(folder, "answer") / f"answer-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


@dataclass(frozen=True)
class Question:
    """A command asked of a folder, with the folder's files as they were when it was asked and its key
    (made once: an answer worked out across midnight is kept under the day it was asked on)."""
    folder: Path
    files: list | None
    key: str | None


def ask(folder: Path, command: str, options: dict) -> tuple[Question, Answer | None]:
    """The question (for ``remember``) and its remembered answer, or None when there is none to trust."""
    try:
        files = folder_key(folder) if cache.enabled() else None
    except OSError:
        files = None
    if files is None:
        return Question(folder, None, None), None
    key = _answer_key(command, options, files)
    question = Question(folder, files, key)
    try:
        stored = json.loads(_answer_path(folder, key).read_text(encoding="utf-8"))
        if stored.get("key") != key:
            return question, None  # made for other files (or not by us): never trusted
        return question, Answer(str(stored["output"]), str(stored["errors"]), int(stored["exit_code"]))
    except Exception:  # noqa: BLE001 - none, damaged or foreign: worked out afresh
        return question, None


def remember(question: Question, answer: Answer) -> None:
    """Keep ``answer`` when the folder's files are still those the question saw; a cache that cannot be
    written is left as it is."""
    key = question.key
    if key is None or not cache.enabled():
        return
    try:
        if folder_key(question.folder) != question.files:
            return  # a file changed while the answer was worked out
        target = _answer_path(question.folder, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        cache.note_folder(cache.folder_entries(question.folder), question.folder)
        record = {"key": key, "output": answer.output, "errors": answer.errors, "exit_code": answer.exit_code}
        cache.write_atomically(target, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        cache.prune(target.parent, "answer", keep=target.name, suffix=".json", count=KEEP)
    except Exception:  # noqa: BLE001 - disk full, read-only home: the next run works it out again
        return
