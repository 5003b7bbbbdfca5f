"""Shared, area-neutral fixtures: a fresh migrated database per test, and private networks allowed.

Tests serve feeds from 127.0.0.1, which the fetcher refuses unless private networks are allowed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import db

os.environ["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    """Path of a database file inside the test's temporary directory (not created yet)."""
    return tmp_path / "monitor.db"


@pytest.fixture()
def tmp_db(db_path: Path):
    """A connected, migrated sqlite_utils Database at `db_path`."""
    database = db.connect(db_path)
    yield database
    database.conn.close()
