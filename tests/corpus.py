"""Where the tests' material is: the project's own fixtures, and the shared research corpus.

The shared corpus (research data sets, seed articles, recorded real feeds and pages) is not part of
this repository: it lives beside it at ``../shared`` (as in CI), or wherever ``MONITOR_TEST_CORPUS``
points. This module is the one place that decides where; everything else imports ``SHARED``,
``REALWORLD``, ``SEEDS`` or ``DATA`` from here.

Tests that read the corpus carry ``@pytest.mark.corpus("data" | "seeds" | "realworld", ...)``:
the parts they need. When a part is missing, ``tests/conftest.py`` leaves those tests out of the
run and the summary says how many and why; every other test uses ``FIXTURES`` (files written for
this project, in ``tests/fixtures/``) so a clean clone still tests the behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV = "MONITOR_TEST_CORPUS"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(os.environ[ENV]).resolve() if os.environ.get(ENV) else REPO.parent / "shared"
PARTS = ("data", "seeds", "realworld")
DATA = SHARED / "data"
SEEDS = SHARED / "seeds"
REALWORLD = SHARED / "realworld"


def missing(parts: tuple[str, ...] = PARTS) -> list[Path]:
    """The folders of `parts` that are not there (the shared folder itself when it is missing as a whole;
    empty when the tests needing them can run)."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown corpus part(s) {sorted(unknown)}: use {', '.join(PARTS)}")
    if not SHARED.is_dir():
        return [SHARED]
    return [SHARED / part for part in parts if not (SHARED / part).is_dir()]


def param(*values: object, needs: str | tuple[str, ...], id: str) -> object:
    """A parametrize case that reads the shared corpus: marked, so it runs only where its parts are."""
    parts = (needs,) if isinstance(needs, str) else tuple(needs)
    return pytest.param(*values, marks=pytest.mark.corpus(*parts), id=id)
