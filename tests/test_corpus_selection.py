"""Issue 15 item 1: a clean clone (no ../shared) runs the tests it can and says what it left out.

Each case runs pytest on tests/test_dedup.py (fast, no servers) in a child process, with
MONITOR_TEST_CORPUS pointing at a folder made here: missing, or holding only the part it needs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.corpus import FIXTURES, REPO


def run_dedup_tests(corpus_dir: Path) -> tuple[int, str]:
    env = {**os.environ, "MONITOR_TEST_CORPUS": str(corpus_dir), "PYTHONPATH": str(REPO)}
    env.pop("MONITOR_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_dedup.py"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_without_the_corpus_its_tests_are_left_out_and_counted(tmp_path):
    missing = tmp_path / "no-shared-here"
    code, out = run_dedup_tests(missing)
    assert code == 0, out
    assert "error" not in out.lower() and "skipped" not in out
    assert re.search(r"\b5 passed, 3 deselected\b", out), out
    assert (f"research corpus: 3 tests left out — {missing} not found (put the shared corpus beside the "
            "repository as ../shared, or set MONITOR_TEST_CORPUS)") in out


def test_with_the_part_it_needs_the_corpus_tests_run_in_addition(tmp_path):
    shared = tmp_path / "shared"
    (shared / "seeds").mkdir(parents=True)
    # stand-ins under the seed names the corpus cases read (the project's own texts, not the research seeds)
    shutil.copy(FIXTURES / "text" / "vi-chuyen-doi-so.txt", shared / "seeds" / "002_c8bb3ae06b274acd.txt")
    shutil.copy(FIXTURES / "text" / "vi-bao-lu.txt", shared / "seeds" / "003_50da44d0bbb7111e.txt")
    code, out = run_dedup_tests(shared)
    assert code == 0, out
    assert re.search(r"\b8 passed\b", out) and "deselected" not in out, out
    assert f"research corpus: 3 tests ran in addition from {shared}" in out
