"""One Apprise send, run as a script (``python indicators/sending.py``) by ``watch`` so that it can be killed at
its deadline: the request (URL, title, body) comes as JSON on stdin, never on the command line (a URL
may hold a password), and the answer ``{"error": null or the reason}`` goes to stdout."""

from __future__ import annotations

import json
import logging
import sys


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
    request = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps({"error": send_now(request["url"], request["title"], request["body"])}))


if __name__ == "__main__":
    main()
