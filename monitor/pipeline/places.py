"""Places at ingest (issue 11): tag each new item with the units it mentions, store them beside it, and
keep items.about_jurisdiction in step with settings.jurisdiction.

classifiers.places (the gazetteer, ~0.2 s to build) is imported on first use, so importing the write
path, `monitor classify` or `monitor status` stays cheap.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlite_utils

from classifiers.text import Folded
from db import transaction
from db.places import record_places, remark_jurisdiction
from db.state import get_state, put_state

log = logging.getLogger("monitor.pipeline")

# service_state key: the jurisdiction items.about_jurisdiction was last marked for (sorted codes, JSON).
JURISDICTION_STATE = "jurisdiction_marked"


def tag_texts(texts: list[str], jurisdiction: frozenset[str],
              folded: list[Folded] | None = None) -> list[tuple[list[Any], bool]]:
    """Each text's places (classifiers.places.Place) and whether one lies in `jurisdiction`. Same-named
    communes the text does not place are resolved towards the jurisdiction's provinces (places.tag).
    `folded`: each text's search_key and words, when the caller has them (places.tag skips the texts
    they rule out)."""
    from classifiers import places

    prefer = tuple(sorted({code for code in jurisdiction if code.startswith("p:")}
                          | {unit.province_code for code in jurisdiction if (unit := places.unit(code))}))
    out = []
    for text, text_folded in zip(texts, folded or [None] * len(texts), strict=True):
        found = places.tag(text, prefer, text_folded)
        out.append((found, places.in_jurisdiction(found, jurisdiction)))
    return out


def record(conn: Any, item_id: int, found: list[Any]) -> None:
    """Store an item's places (inside the transaction that stored the item)."""
    if found:
        record_places(conn, item_id, [(place.code, place.level, place.province_code) for place in found])


def sync_jurisdiction(database: sqlite_utils.Database, jurisdiction: frozenset[str]) -> int | None:
    """Re-mark every item's about_jurisdiction when the jurisdiction differs from the one they were marked
    for (feeds.yaml edited): the scheduler calls this at start and reload, `monitor crawl` before a pass.
    Returns the number of items re-marked, None when nothing changed."""
    value = json.dumps(sorted(jurisdiction))
    if get_state(database, JURISDICTION_STATE) == value:
        return None
    with transaction(database) as conn:
        changed = remark_jurisdiction(conn, jurisdiction)
        put_state(conn, JURISDICTION_STATE, value)
    log.info("jurisdiction changed: items re-marked", extra={"jurisdiction": sorted(jurisdiction), "changed": changed})
    return changed
