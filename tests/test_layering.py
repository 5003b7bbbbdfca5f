"""The boundaries the README's architecture section promises, checked on the source itself (issue 16).

- Dependencies point one way: web → monitor → (classifiers, db) → vocab. A lower package importing a higher
  one (even lazily, inside a function) would let a change in the web app break the crawler.
- SQL lives in db/ only: monitor/ and web/ call named query functions, so the storage issue has one seam.
- No function is over 80 lines, tests and benches included (the style rule issue 16 applied everywhere).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.corpus import REPO

# What each first-party package may import (besides itself).
ALLOWED = {
    "vocab": set(),
    "classifiers": {"vocab"},
    "db": {"vocab", "classifiers"},
    "monitor": {"vocab", "classifiers", "db", "web"},  # web: only `monitor run` / `serve` start the app, lazily
    "web": {"vocab", "classifiers", "db", "monitor"},
}
# monitor may import web only here: the commands that serve the app.
MONITOR_MAY_IMPORT_WEB = {"monitor/service.py", "monitor/demo.py", "monitor/commands/ops.py",
                          "monitor/commands/core.py"}
# A string that starts like a statement, keywords in capitals as db/ writes them ("Select one item" is a label).
SQL = re.compile(r"^\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
                 r"CREATE\s+(TABLE|INDEX)\s|WITH\s+\w+\s+AS\s|PRAGMA\s)")


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Top-level package names of every import in the file, at any depth (lazy imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    first_party = set(ALLOWED)
    wrong = []
    for path in _modules(package):
        rel = path.relative_to(REPO).as_posix()
        allowed = ALLOWED[package] - ({"web"} if package == "monitor" and rel not in MONITOR_MAY_IMPORT_WEB else set())
        for name in sorted((_imports(path) & first_party) - {package} - allowed):
            wrong.append(f"{rel} imports {name}")
    assert not wrong, wrong


@pytest.mark.parametrize("package", ["monitor", "web"])
def test_sql_lives_in_db_only(package):
    found = []
    for path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                found.append(f"{path.relative_to(REPO).as_posix()}:{node.lineno}: {node.value.strip()[:60]}")
    assert not found, found


def test_the_checks_would_catch_a_violation(tmp_path):
    """The two scanners see what they are meant to see (a lazy import, a statement in a string)."""
    probe = tmp_path / "probe.py"
    probe.write_text('def f():\n    import web.queue\n    return "  SELECT id FROM items"\n', encoding="utf-8")
    assert "web" in _imports(probe)
    strings = [n.value for n in ast.walk(ast.parse(probe.read_text())) if isinstance(n, ast.Constant)]
    assert any(isinstance(s, str) and SQL.match(s) for s in strings)


def test_the_sql_scanner_finds_the_statements_in_db():
    """db/ is where the statements are: the scanner that finds none in monitor/ and web/ finds them there."""
    count = sum(1 for path in _modules("db") for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value))
    assert count > 100, count


MAX_FUNCTION_LINES = 80  # the style rule: functions that read top to bottom on one screen or so
CHECKED_FOR_LENGTH = ("monitor", "web", "db", "classifiers", "vocab", "bench", "tests", "scripts")


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function or method under `root` longer than `limit` lines, as "path:line name (n lines)"."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({length} lines)")
    return found


@pytest.mark.parametrize("folder", CHECKED_FOR_LENGTH)
def test_no_function_is_longer_than_80_lines(folder):
    assert long_functions(REPO / folder) == []


def test_the_length_check_would_catch_a_long_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (package / "long.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n", encoding="utf-8")
    assert long_functions(package) == ["pkg/long.py:5 long (81 lines)"]
