"""Regenerate the message catalogs: `python web/translations/build.py` (extract → update → compile).

Run after changing UI text; the test suite fails if a Vietnamese string is missing or a .mo is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEB = HERE.parent


def main() -> int:
    pot = HERE / "messages.pot"
    run = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run([*run, "extract", "-F", str(WEB / "babel.cfg"), "-k", "N_", "--no-location", "--omit-header",
                    "-o", str(pot), str(WEB)], check=True)
    for locale in ("vi", "en"):
        po = HERE / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        extra = ["--no-fuzzy-matching"] if action == "update" else []
        subprocess.run([*run, action, "-i", str(pot), "-d", str(HERE), "-l", locale, "--no-wrap", *extra], check=True)
    subprocess.run([*run, "compile", "-d", str(HERE), "--statistics"], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
