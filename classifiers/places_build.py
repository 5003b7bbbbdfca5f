"""Build classifiers/places_legacy.json: the pre-2025 provinces and districts, mapped to today's units.

Run at build time, not at run time: `python -m classifiers.places_build` (needs the `test` extra's
`vietnamadminunits`). The tagger (classifiers.places) reads the compact JSON this writes (~40 KB) instead
of depending on vietnamadminunits at run time, which would mean a 7 MB sqlite, shapely and geopy for what
is, for tagging, two small tables:

- each of the 63 pre-2025 provinces → the code of the province it became part of (vietnam-provinces codes);
- each of the 696 pre-2025 districts, towns and provincial cities → the province it lies in today, and the
  new commune or ward when the whole district became exactly one (island districts → đặc khu, ...).

Only the package's JSON data is read (its modules import shapely and geopy). The converter's old→new tables
name units by folded keys ("tinhthanhhoa", "phuonghacthanh"); they are matched to vietnam-provinces'
units by the same folding. tests/test_places.py checks the committed file is what this script builds.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path

from classifiers.text import fold_diacritics

OUT = Path(__file__).with_name("places_legacy.json")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold_diacritics(name).lower())


def _data(package: str, name: str) -> dict | list:
    return json.loads(resources.files(package).joinpath("data", name).read_text(encoding="utf-8"))


def _new_units() -> tuple[dict[str, int], dict[tuple[int, str], int]]:
    """vietnam-provinces: converter province key → province code; (province code, ward key) → ward code."""
    provinces: dict[str, int] = {}
    wards: dict[tuple[int, str], int] = {}
    for province in _data("vietnam_provinces", "nested-divisions.json"):
        prefix = "tinh" if province["division_type"] == "tỉnh" else ""
        provinces[prefix + _key(province["name"])] = province["code"]
        for ward in province["wards"]:
            wards[(province["code"], _key(ward["name"]))] = ward["code"]
    return provinces, wards


def _district_wards(converter: dict, new_provinces: dict[str, int],
                    new_wards: dict[tuple[int, str], int]) -> dict[str, set[tuple[int, int | None]]]:
    """Old "province_district" key → the (new province, new ward) pairs its communes went to."""
    out: dict[str, set[tuple[int, int | None]]] = {}

    def add(old_key: str, province: int, ward_key: str) -> None:
        old_province, old_district, _ = old_key.split("_", 2)
        out.setdefault(f"{old_province}_{old_district}", set()).add((province, new_wards.get((province, ward_key))))

    for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, olds in wards.items():
            for old_key in olds:
                add(old_key, new_provinces[province_key], ward_key)
    for province_key, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in divided.items():
            for target in targets:
                add(old_key, new_provinces[province_key], target["newWardKey"])
    return out


def build() -> dict:
    """The legacy table as written to places_legacy.json."""
    new_provinces, new_wards = _new_units()
    legacy = _data("vietnamadminunits", "parser_legacy.json")
    converter = _data("vietnamadminunits", "converter_2025.json")
    old_to_new = {old: new_provinces[new] for new, olds in converter["DICT_PROVINCE"].items() for old in olds}
    provinces = sorted([info["provinceShort"], old_to_new[key]] for key, info in legacy["DICT_PROVINCE"].items())
    went_to = _district_wards(converter, new_provinces, new_wards)
    districts = []
    unmatched = 0
    for old_province, old_districts in legacy["DICT_PROVINCE_DISTRICT"].items():
        for district_key, info in old_districts.items():
            targets = went_to.get(f"{old_province}_{district_key}", set())
            province_codes = {province for province, _ in targets} or {old_to_new[old_province]}
            if len(province_codes) != 1:
                raise SystemExit(f"{info['district']} lies in several provinces: {province_codes}")
            commune = next(iter(targets))[1] if len(targets) == 1 else None
            unmatched += sum(1 for _, ward in targets if ward is None)
            # "Kỳ Anh (Thị xã)": the package tells same-named districts apart by a suffix nobody writes
            name = re.sub(r"\s*\([^)]*\)$", "", info["districtShort"])
            districts.append([info["districtType"].lower(), name, province_codes.pop(), commune])
    districts.sort()
    return {"about": "pre-2025 provinces and districts → today's units; built by classifiers/places_build.py "
                     "from vietnamadminunits' converter_2025/parser_legacy data",
            "provinces": provinces, "districts": districts, "unmatched_ward_keys": unmatched}


def main() -> int:
    table = build()
    OUT.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(table['provinces'])} provinces, {len(table['districts'])} districts, "
          f"{table['unmatched_ward_keys']} ward keys without a vietnam-provinces unit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
