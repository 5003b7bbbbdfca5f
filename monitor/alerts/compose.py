"""The alert's text: plain text in the alert language (settings.alerts.lang, Vietnamese by default), the same
for e-mail, Telegram and webhooks.

An alert says what the story is (its title), why it fired (each reason: the score, the debunked claim it
repeats with the rebuttal's link, the places it mentions, the spike rule), where it appeared (its sources by
name, up to MAX_LINKS links to the copies) and where to act on it (the item page under
settings.alerts.public_url). A digest is the same sections, one after the other, under one heading.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from db import alerts as store
from monitor.config import Settings
from monitor.reports.display import Wording, wording

MAX_LINKS = 6
MAX_TITLE = 200


def words_for(settings: Settings) -> Wording:
    return wording(settings.alerts.lang)


def item_link(settings: Settings, item_id: int) -> str:
    """The item page's address (settings.alerts.public_url + /items/<id>); the path alone without one."""
    return f"{settings.alerts.public_url or ''}/items/{item_id}"


def place_label(code: str) -> str:
    """A place as the message shows it: its name and the code item_places stores ("Thanh Hóa (p:38)"), or
    the code alone for a unit the gazetteer no longer knows."""
    from classifiers.places import place_name

    name = place_name(code)
    return f"{name} ({code})" if name != code else code


def _reason_lines(alert: dict[str, Any], words: Wording, places: list[tuple[str, str]]) -> list[str]:
    reasons = alert["reasons"]
    lines = []
    for event in alert["events"]:
        if event == "flagged_high":
            text = words.gettext("Flagged with high priority (score %(score)s)",
                                 score=words.number(reasons.get("score", 0)))
            if reasons.get("watchlist"):
                text += "; " + words.gettext("watchlist: %(rules)s", rules=", ".join(reasons["watchlist"]))
            lines.append(text)
        elif event == "claim_match":
            for claim in reasons.get("claims", [])[:3]:
                lines.append(words.gettext("Repeats a claim already debunked: “%(claim)s”",
                                           claim=_short(claim.get("text") or "", 160)))
                if claim.get("url"):
                    publisher = f" ({claim['publisher']})" if claim.get("publisher") else ""
                    lines.append("  " + words.gettext("Rebuttal: %(url)s", url=claim["url"]) + publisher)
        elif event == "jurisdiction":
            named = ", ".join(place_label(code) for code, _level in places) or "—"
            lines.append(words.gettext("Flagged, about our jurisdiction: %(places)s", places=named))
        elif event == "spike":
            for spike in reasons.get("spikes", [])[:3]:
                lines.append(_spike_line(spike, words))
    return lines


def _spike_line(spike: dict[str, Any], words: Wording) -> str:
    if spike["kind"] == "story_sources":
        return words.gettext("Spreading: rule %(rule)s, %(n)s sources", rule=spike["rule"],
                             n=words.number(spike["observed"]))
    return words.gettext("Spike: rule %(rule)s on %(subject)s, %(observed)s per hour (usually %(expected)s)",
                         rule=spike["rule"], subject=place_label(str(spike["subject"])),
                         observed=words.number(spike["observed"]), expected=words.number(spike["expected"] or 0))


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def section(database: sqlite_utils.Database, settings: Settings, alert: dict[str, Any]) -> tuple[str, list[str]]:
    """One alert's title and lines."""
    words = words_for(settings)
    copies = store.story_copies(database, alert["story"]) if alert["story"] > 0 else []
    lead = next((copy for copy in copies if copy["id"] == alert["item_id"]), copies[0] if copies else None)
    title = _short((lead or {}).get("title") or words.gettext("(no title)"), MAX_TITLE)
    places = store.places_of_items(database, [copy["id"] for copy in copies])
    sources = list(dict.fromkeys(copy["source"] for copy in copies))
    lines = [words.gettext("Why:")]
    lines += [f"- {line}" if not line.startswith("  ") else line
              for line in _reason_lines(alert, words, places)]
    if places and "jurisdiction" not in alert["events"]:
        lines.append("- " + words.gettext("Places: %(places)s",
                                          places=", ".join(place_label(code) for code, _ in places)))
    lines.append(words.gettext("Sources (%(n)s): %(names)s", n=len(sources), names=", ".join(sources) or "—"))
    links = list(dict.fromkeys(copy["url"] for copy in copies if copy["url"]))[:MAX_LINKS]
    if links:
        lines.append(words.gettext("Copies:"))
        lines += [f"- {link}" for link in links]
    lines.append(words.gettext("Open the item: %(url)s", url=item_link(settings, alert["item_id"])))
    return title, lines


def message(database: sqlite_utils.Database, settings: Settings, alert: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of one alert."""
    title, lines = section(database, settings, alert)
    subject = words_for(settings).gettext("Alert: %(title)s", title=title)
    return subject, "\n".join([title, "", *lines]) + "\n"


def digest(database: sqlite_utils.Database, settings: Settings, alerts: list[dict[str, Any]]) -> tuple[str, str]:
    """(subject, body) of a morning digest: the alerts held overnight, one section each."""
    if len(alerts) == 1:
        return message(database, settings, alerts[0])
    words = words_for(settings)
    subject = words.ngettext("Overnight alerts: %(num)s story", "Overnight alerts: %(num)s stories", len(alerts))
    parts = [subject, ""]
    for number, alert in enumerate(alerts, 1):
        title, lines = section(database, settings, alert)
        parts += [f"{number}. {title}", *lines, ""]
    return subject, "\n".join(parts)
