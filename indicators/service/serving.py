"""Running the dashboard server: Streamlit as a child process that never asks anything.

``watchfloor serve`` starts Streamlit headless (no e-mail prompt, no telemetry), waits until
``/_stcore/health`` answers, opens a browser tab itself, and when Streamlit exits on its own says why
and returns non-zero. It works without a terminal (a service, a desktop launcher, ``setsid``).
No Streamlit import here: the server is a separate process.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
ROOT_VARIABLE = "WATCHFLOOR_ROOT"
HEALTH_TIMEOUT_SECONDS = 120
KEPT_OUTPUT_LINES = 30


# Streamlit's own start-up lines, which name its addresses and internals rather than Watchfloor's
# (they are still kept for the report when the server dies)
STREAMLIT_CHATTER = ("Streamlit app in your browser", "URL:", "Uvicorn server started")


class ServeError(Exception):
    """The server cannot start; the message says why and what to do."""


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ANONYMOUS_VARIABLE = "WATCHFLOOR_ANONYMOUS"
SIGN_IN_VARIABLE = "WATCHFLOOR_SIGN_IN"  # "required": the app shows nothing without a working sign-in
SHARED_KEYS = ("redirect_uri", "cookie_secret")  # in [auth] itself
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")  # in [auth] or [auth.default]


@dataclass(frozen=True)
class Exposure:
    """Who can reach the dashboard: only this machine, signed-in users (``auth_file``), or anyone.

    ``secrets`` is the auth file's text as checked: it is what Streamlit gets, under a name it loads."""

    auth_file: Path | None = None
    anonymous: bool = False
    secrets: str | None = None
    warnings: tuple[str, ...] = ()


def check_exposure(host: str, auth_file: Path | None, allow_anonymous: bool) -> Exposure:
    """Refuse to put the data and its write forms in front of a network without sign-in, unless asked."""
    if auth_file is not None:
        text = check_auth_file(auth_file)
        return Exposure(auth_file.resolve(), secrets=text, warnings=tuple(auth_file_warnings(auth_file)))
    if host in LOOPBACK_HOSTS:
        return Exposure()
    if not allow_anonymous:
        raise ServeError(f"--host {host} would let anyone who can reach this machine read and change the "
                         "watchlist: turn on sign-in with --auth FILE (see docs/team.md), or pass "
                         "--allow-anonymous to serve without it")
    return Exposure(anonymous=True)


def sign_in_problem(secrets: dict) -> str | None:
    """Why ``st.login()`` (Watchfloor signs in with the default provider) cannot work with these
    secrets, or None when it can: [auth] with redirect_uri and cookie_secret, and client_id,
    client_secret and server_metadata_url there or in [auth.default]."""
    section = secrets.get("auth")
    if not isinstance(section, dict):
        return "has no [auth] section; see docs/team.md"
    provider = section.get("default") if isinstance(section.get("default"), dict) else section
    missing = [key for key in SHARED_KEYS if not _is_text(section.get(key))]
    missing += [key for key in PROVIDER_KEYS if not _is_text(provider.get(key))]
    if missing:
        return f"the [auth] section lacks {', '.join(missing)}"
    if not section["redirect_uri"].rstrip().endswith("/oauth2callback"):
        return (f'redirect_uri "{section["redirect_uri"]}" must be the public address followed by /oauth2callback, '
                "e.g. https://watch.example.org/oauth2callback")
    allow = provider.get("allow_unverified_email", section.get("allow_unverified_email", False))
    if not isinstance(allow, bool):
        return "allow_unverified_email must be true or false (without quotes)"
    return None


def _is_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_auth_file(path: Path) -> str:
    """The secrets file's text, once it is known to hold an [auth] section ``st.login`` can use."""
    import tomllib

    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ServeError(f"--auth {path}: cannot be read ({(error.strerror or str(error)).lower()})") from None
    except UnicodeDecodeError:
        raise ServeError(f"--auth {path}: is not a UTF-8 text file; write it as TOML in UTF-8") from None
    try:
        secrets = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ServeError(f"--auth {path}: is not valid TOML ({error})") from None
    problem = sign_in_problem(secrets)
    if problem:
        raise ServeError(f"--auth {path}: {problem}")
    return text


def auth_file_warnings(path: Path) -> list[str]:
    """A secrets file other users of the machine can read gives away the client and cookie secrets."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o044:
        return [f"--auth {path} can be read by other users of this machine (mode {mode:o}); it holds the client "
                f"secret and the cookie secret: chmod 600 {path}"]
    return []


def private_secrets_file(text: str) -> Path:
    """The checked secrets written as ``secrets.toml`` in a folder only this user can open: Streamlit
    loads secrets only from files named *.toml, and this way it reads exactly what was checked."""
    folder = Path(tempfile.mkdtemp(prefix="watchfloor-auth-"))  # mode 0700
    path = folder / "secrets.toml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def streamlit_command(port: int, host: str, secrets_file: Path | None = None) -> list[str]:
    secrets = ["--secrets.files", str(secrets_file)] if secrets_file else []
    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH), *secrets,
            "--server.port", str(port), "--server.address", host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--browser.serverAddress", "localhost",
            "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none", "--theme.base", "light",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false"]


def local_address(host: str) -> str:
    """Where this machine reaches a server listening on ``host``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex((local_address(host), port)) == 0


def is_healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def can_open_browser() -> bool:
    """A browser tab can be opened: a desktop session (or $BROWSER) is there. On a Linux machine
    without a display Python would start a text browser in the terminal instead: never do that."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server stops when ``serve`` is killed, so no orphan keeps the port."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_server(folder: Path, port: int, host: str, open_browser: bool, say: Callable[[str, bool], None],
               exposure: Exposure = Exposure()) -> int:
    """Serve ``folder`` until stopped; returns the exit code (0 when stopped by the user or a signal).

    ``say(text, is_error)`` prints a line for the user.
    """
    shown_host = "localhost" if host in ("127.0.0.1", "localhost") else host
    url = f"http://{shown_host}:{port}"
    for warning in exposure.warnings:
        say(f"Warning: {warning}", True)
    if port_in_use(host, port):
        raise ServeError(f"port {port} is already in use on {shown_host} (another dashboard?); stop it, or "
                         f"choose another port with --port {port + 1}")
    secrets_file = private_secrets_file(exposure.secrets) if exposure.secrets is not None else None
    try:
        return _serve(folder, port, host, open_browser, say, exposure, secrets_file, url)
    finally:
        if secrets_file is not None:
            shutil.rmtree(secrets_file.parent, ignore_errors=True)


def _serve(folder: Path, port: int, host: str, open_browser: bool, say: Callable[[str, bool], None],
           exposure: Exposure, secrets_file: Path | None, url: str) -> int:
    """``run_server``'s work once the secrets (if any) are where Streamlit loads them."""
    environment = {**os.environ, ROOT_VARIABLE: str(folder.resolve()),
                   ANONYMOUS_VARIABLE: "1" if exposure.anonymous else "",
                   SIGN_IN_VARIABLE: "required" if exposure.auth_file is not None else ""}
    process = subprocess.Popen(streamlit_command(port, host, secrets_file), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                               env=environment, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    recent: collections.deque[str] = collections.deque(maxlen=KEPT_OUTPUT_LINES)

    def relay() -> None:
        for line in process.stdout:
            recent.append(line.rstrip())
            if line.strip() and not any(chatter in line for chatter in STREAMLIT_CHATTER):
                say(line.rstrip(), False)

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        stopping.set()
        if process.poll() is None:
            process.terminate()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    say(f"Watchfloor: starting the dashboard on {folder} ...", False)
    base = f"http://{'[' + local_address(host) + ']' if ':' in local_address(host) else local_address(host)}:{port}"
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while process.poll() is None and not stopping.is_set():
        if is_healthy(base):
            say(f"Watchfloor is ready: {url}  (Ctrl+C to stop)", False)
            if open_browser and can_open_browser():
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
            elif open_browser:
                say(f"No desktop browser here: open {url} in a browser.", False)
            break
        if time.monotonic() > deadline:
            say(f"Watchfloor: the dashboard did not answer within {HEALTH_TIMEOUT_SECONDS} s; still waiting.", True)
            break
        time.sleep(0.25)
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:  # a second Ctrl+C while stopping
            stopping.set()
    relay_thread.join(timeout=2)
    if stopping.is_set():
        say("Watchfloor: stopped.", False)
        return 0
    last = "\n".join(f"  {line}" for line in recent if line.strip()) or "  (it printed nothing)"
    say(f"Watchfloor: the dashboard server stopped unexpectedly (exit code {code}). Its last output:\n{last}", True)
    return 1
