"""Normalisation of raw items, one concern per module; plain functions over bytes, strings and datetimes.

- `charset`: bytes to NFC text (BOM, declared charset, detection, VISCII / windows-1258): `decode_bytes`,
  `detect_charset`, `decode_viscii`.
- `html`: HTML to clean text: `html_to_text`, `clean_text`, `parse_html`.
- `urls`: one spelling per article: `canonical_url`.
- `language`: the language of a text: `detect_language`.
- `times`: feed dates and UTC: `parse_time`, `to_utc`.

The dedup keys themselves come from classifiers.text so that dedup, features and search agree.
"""
