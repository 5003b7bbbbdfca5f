"""Regenerate the message catalogs: `python vocab/translations/build.py` (extract → update → compile).

Run after changing UI or report text; the test suite fails if a Vietnamese string is missing or a .mo
is stale. Messages are extracted from web/ (Python and templates), monitor/ (the reports and their
templates) and vocab/ (the stored words' labels).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = ("web", "monitor", "vocab")


def main() -> int:
    pot = HERE / "messages.pot"
    run = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run([*run, "extract", "-F", str(HERE / "babel.cfg"), "-k", "N_", "--no-location", "--omit-header",
                    "-o", str(pot), *(str(ROOT / name) for name in SOURCES)], check=True)
    for locale in ("vi", "en"):
        po = HERE / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        extra = ["--no-fuzzy-matching"] if action == "update" else []
        subprocess.run([*run, action, "-i", str(pot), "-d", str(HERE), "-l", locale, "--no-wrap", *extra], check=True)
    subprocess.run([*run, "compile", "-d", str(HERE), "--statistics"], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
