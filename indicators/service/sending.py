"""Apprise sends in a sender process of their own, so that a send can be cut off at its deadline.

``watch`` starts the sender (``python indicators/service/sending.py``: the script alone, not the
package) on its first message and keeps it for the next ones: Apprise loads its hundred plugins once
(0.7 s of processor time), not once per message. Each request (URL, title, body) goes as one JSON line
on the sender's stdin, never on the command line (a URL may hold a password); each answer comes back as
one line ``{"error": null or the reason}``. A send that misses its deadline stops the sender, with
whatever it was doing; the next message starts a new one. The sender dies with the process that
started it.

This module imports only the standard library: the sender starts in a fraction of a second.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable


def send_now(url: str, title: str, body: str) -> str | None:
    """Send one message; None when the receiver accepted it, else the reason."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "not a URL Apprise can send to; check it"
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    collector = Collect(level=logging.WARNING)
    logger = logging.getLogger("apprise")
    logger.addHandler(collector)
    try:
        accepted = bool(notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
    except Exception as error:  # noqa: BLE001 - a plugin's own failure is a failed send, not a crash
        return f"the sending failed ({type(error).__name__}: {error})"
    finally:
        logger.removeHandler(collector)
    return None if accepted else (messages[-1] if messages else "the receiver did not accept it")


def main() -> None:
    """The sender: answer each request line read from stdin with one line, until stdin ends."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a plugin prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    logging.getLogger("apprise").propagate = False  # its warnings are the answer's reason, not stderr's
    for line in sys.stdin:
        try:
            request = json.loads(line)
            error = send_now(request["url"], request["title"], request["body"])
        except (ValueError, KeyError, TypeError) as problem:
            error = f"the sender could not read the request ({type(problem).__name__})"
        answers.write(json.dumps({"error": error}) + "\n")
        answers.flush()


class Sender:
    """The parent's side: one sender process, started when first needed and kept between messages;
    ``send`` is safe to call from several threads (one send at a time)."""

    def __init__(self, before_start: Callable[[], None] | None = None):
        self.before_start = before_start  # runs in the sender before it starts (e.g. die with the parent)
        self.process: subprocess.Popen | None = None
        self.errors = None  # the sender's stderr: its last line names why it stopped
        self.lock = threading.Lock()

    def send(self, url: str, title: str, body: str, seconds: float) -> str | None:
        """Send within ``seconds`` in all (starting the sender, connecting, writing, reading the answer);
        None when the receiver accepted it, else the reason."""
        deadline = time.monotonic() + seconds
        request = (json.dumps({"url": url, "title": title, "body": body}) + "\n").encode("utf-8")
        with self.lock:
            try:
                self._write(request)
            except OSError:  # the sender stopped since the last message (it never read this one): a new one
                self.stop()
                try:
                    self._write(request)
                except OSError as error:
                    self.stop()
                    return f"the sending process could not be started ({error})"
            answer = self._read_line(deadline)
            if answer is None:
                self.stop()
                return (f"no complete answer within {seconds:g} s (the receiver is down, too slow or hanging); "
                        "given up for now")
            if not answer:
                reason = self._stopped_because()
                return f"the sending process failed ({reason})"
            try:
                return json.loads(answer)["error"]
            except (ValueError, KeyError, TypeError):
                self.stop()
                return "the sending process failed (an answer it could not have given)"

    def stop(self) -> None:
        """Stop the sender (and the send it is making); the next message starts a new one."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, self.errors):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        self.errors = None

    def _write(self, request: bytes) -> None:
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.errors = tempfile.TemporaryFile()
            self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self.errors, bufsize=0,
                                            preexec_fn=self.before_start)
        view = memoryview(request)
        while view:
            view = view[os.write(self.process.stdin.fileno(), view):]

    def _read_line(self, deadline: float) -> bytes | None:
        """One answer line (b"" when the sender stopped), or None at the deadline."""
        read, chunks = self.process.stdout.fileno(), []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                return None
            chunk = os.read(read, 65536)
            if not chunk:
                return b""
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)

    def _stopped_because(self) -> str:
        process, errors = self.process, self.errors
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its answers but did not end: stopped below
            code = "none yet"
        last = "no output"
        if errors is not None:
            errors.seek(0)
            last = (errors.read().decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        self.stop()
        return f"exit code {code}: {last}"


if __name__ == "__main__":
    main()
