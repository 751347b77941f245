"""An alert message as text: what ``watch`` sends (the same text to mail, chat and webhooks).

One message per round, carrying every alert it is about, each with its id, its state and a link that
opens the dashboard's Alerts page on it; the marking first and last; what was reported since the
last message; the message id last, so that a receiver can drop a repeat.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from .alerts import OVERALL, level_word

# most urgent first: the subject line names the first
KIND_ORDER = {"firing": 0, "silence ended": 1, "resolved": 2, "reminder": 3}


def alert_link(url_base: str, watchlist: str, as_of: dt.date, alert_id: str) -> str:
    """The Alerts page (at /alerts) of this watchlist, as of the round's day, opened on the alert."""
    query = urlencode({"watchlist": watchlist, "as_of": as_of.isoformat(), "alert": alert_id})
    return f"{url_base.rstrip('/')}/alerts?{query}"


def ordered_items(record: dict) -> list[dict]:
    return sorted(record.get("items", []), key=lambda item: KIND_ORDER.get(item.get("kind"), 9))


def item_state(item: dict) -> str:
    """The alert's state as the message tells it."""
    if item.get("state"):
        return item["state"].upper()
    return "RESOLVED" if item.get("kind") == "resolved" else "FIRING"


def _levels(item: dict) -> str:
    return f"{level_word(item['from'])} -> {level_word(item['to'])}"


def headline(item: dict) -> str:
    """The subject line's words for one item: "FIRING overall NORMAL -> HIGH", "reminder 2: ..."."""
    name = "overall" if item.get("subject") == OVERALL else item["name"]
    if item["kind"] == "resolved":
        return f"RESOLVED {name}, now {level_word(item['now'])}" if item.get("now") else f"RESOLVED {name}"
    text = f"{item_state(item)} {name} {_levels(item)}"
    if item["kind"] == "reminder":
        return f"reminder {item['number']}: {text}, not acknowledged"
    if item["kind"] == "silence ended":
        return f"silence ended: {text}" + (f", still {level_word(item['now'])}" if item.get("now") else "")
    return text


def item_lines(item: dict, fallback_link: str | None) -> list[str]:
    """One alert in the body: its state, id and sentence, its reasons, its link."""
    start = f"{item_state(item)} {item['alert']}: {item['name']} {_levels(item)}"
    lines = []
    if item["kind"] == "firing":
        if item.get("subject") == OVERALL and item.get("index") is not None:
            start += f" (index {item['index']:.1f})"
        detail = ", ".join(part for part in (item.get("value"), item.get("date"),
                                             item.get("source") and f"{item['source']}"
                                             f"{' (' + item['grade'] + ')' if item.get('grade') else ''}") if part)
        lines.append(start + (f" ({detail})" if detail else ""))
        lines.extend(f"  because {reason}" for reason in item.get("reasons") or [])
    elif item["kind"] == "resolved":
        raised = f" (raised as of {item['raised_as_of']})" if item.get("raised_as_of") else ""
        lines.append(f"{start}{raised} is over: {item['reason']}")
        lines.extend(f"  because {reason}" for reason in item.get("reasons") or [])
    elif item["kind"] == "reminder":
        now = f"; now {level_word(item['now'])}" if item.get("now") else ""
        lines.append(f"{start}, reminder {item['number']}: not acknowledged since {item['raised_at']}{now}")
    else:
        until = f" (through {item['until']}" + (f': "{item["comment"]}"' if item.get("comment") else "") + ")" \
            if item.get("until") else ""
        now = f": now {level_word(item['now'])}" if item.get("now") else ""
        lines.append(f"{start}: silence {item['silence']}{until} ended and it still holds{now}")
    link = item.get("view") or fallback_link
    if link:
        lines.append(f"  View: {link}")
    return lines


def format_message(record: dict) -> tuple[str, str]:
    """(title, body) of a message as text (see the module's description)."""
    marking = record.get("marking") or ""
    items = ordered_items(record)
    if items:
        first = headline(items[0])
        more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
        title = f"{record['watchlist']}: {first}{more} [{items[0]['alert']}]"
    else:
        title = f"{record['watchlist']}: [{record['id']}]"
    title = f"[{marking}] {title}" if marking else title
    lines = [marking] if marking else []
    lines.append(f"{record['watchlist']} - as of {record['as_of']}")
    for item in items:
        lines.extend(item_lines(item, record.get("url")))
    observations, events = record.get("observations", []), record.get("events", [])
    if observations or events:
        lines.append(f"New since {record.get('since') or 'the last message'}:")
        for row in observations:
            value = "" if row["value"] is None else f" {row['value']:g}"
            status = "" if row["status"] == "reported" else f" [{row['status']}]"
            source = f" - {row['source']}" if row.get("source") else ""
            lines.append(f"  {row['date']} {row['indicator']}{value}{status}{source}")
        lines.extend(f"  Event {event['date']}: {event['title']}" for event in events)
    lines.append(f"Message id: {record['id']}")
    if marking:
        lines.append(marking)
    return title, "\n".join(lines)


__all__ = ["alert_link", "format_message", "headline", "ordered_items"]
