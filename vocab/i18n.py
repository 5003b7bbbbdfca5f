"""The languages the service speaks and its one set of message catalogs.

The web UI (through Flask-Babel), the reports and the documents they produce all read the catalogs
in `vocab/translations/`, so a word is translated once. They live in this lowest layer because both
`web` and `monitor` need them and `monitor` must not import `web`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def N_(text: str) -> str:  # noqa: N802 - the conventional gettext no-op marker for extraction
    return text


class LanguageError(ValueError):
    """An unknown language code (from a command line or a settings file)."""


def check_language(lang: str) -> str:
    """`lang` if the service speaks it; otherwise a LanguageError naming the choices."""
    if lang not in LANGUAGES:
        raise LanguageError(f"unknown language '{lang}' (expected one of: {', '.join(LANGUAGES)})")
    return lang


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of `lang` (gettext/ngettext), loaded once per process."""
    return Translations.load(str(TRANSLATIONS_DIR), [check_language(lang)], domain="messages")
