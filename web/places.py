"""The places an item mentions, as the item page and the API show them (issue 11): stored codes
(db.places) named through the gazetteer (classifiers.places)."""

from __future__ import annotations

from typing import Any

from classifiers import places
from db.places import item_places


def places_of(database: Any, item_id: int) -> list[dict[str, str]]:
    """[{name, code, level, province}] for an item; `province` is the name of the province a commune lies
    in (empty for a province). A code the installed gazetteer no longer knows shows as the code itself."""
    out = []
    for row in item_places(database.conn, item_id):
        province = places.unit(row["province_code"]) if row["level"] == "commune" else None
        out.append({"name": places.place_name(row["code"]), "code": row["code"], "level": row["level"],
                    "province": province.name if province else ""})
    return out
