"""Shared, area-neutral fixtures: a fresh migrated database per test, one built world shared by the tests
(copied for each test that may write), cheap password hashes, and private networks allowed.

Tests serve feeds from 127.0.0.1, which the fetcher refuses unless private networks are allowed.

The world (`helpers.build`: four users, two sources, five items) is built once per session, or once per
worker under pytest-xdist, and copied into each test's own tmp_path by `world`: a copy takes milliseconds,
a build a second. `shared_world` / `shared_app` hand out one session copy (and one app on it) to tests
that only read; each such test is checked afterwards to have left that database as it found it.

Passwords are hashed with pbkdf2 at 1,000 rounds during tests (as Django's test settings use MD5): a real
hash costs ~0.2 s and tests make hundreds. check_password_hash reads the method from the stored hash, so
the production code runs unchanged; `helpers.REAL_GENERATE_PASSWORD_HASH` keeps the real one, and
test_web_hardening asserts it is still strong, so the patch hides nothing.

Tests marked ``corpus`` read the shared research corpus (``tests/corpus.py`` says where it is). Where
a part they need is missing (a clean clone has no ``../shared``) they are left out of the run rather
than failing or being skipped one by one, and the summary says how many ran or were left out, and why.

PostgreSQL (tests/pg.py has the why): `pg_server` starts a throw-away cluster the first time a test asks for
it, one per session or xdist worker, removed at the end; `pg_url` is a fresh empty database per test and
`pg_template(name, build)` a copy of a database built once per session (PostgreSQL's analogue of `world`).
A test that takes `database_url` (or a module with `pytestmark = pytest.mark.usefixtures("backend")`) runs
once per backend: a SQLite file path in tmp_path, then a PostgreSQL URL. Without the server binaries the
PostgreSQL cases fail with a one-line message saying to run scripts/test.sh; they are never skipped.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import ipaddress
import os
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.security import generate_password_hash

import db
import db.users
from tests import corpus, helpers, pg

os.environ["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"
# training's embedding cache (the second stage): one per test run, never the developer's ~/.cache
os.environ.setdefault("MONITOR_CACHE_DIR", tempfile.mkdtemp(prefix="monitor-test-cache-"))
if os.environ.get(corpus.ENV):
    # classifiers.data reads $MONITOR_DATA_DIR (else ../shared/data): point it into the same corpus.
    os.environ.setdefault("MONITOR_DATA_DIR", str(corpus.DATA))

CORPUS_RUN = pytest.StashKey[dict]()

TEST_HASH_METHOD = "pbkdf2:sha256:1000"
WORLD_DB = "world.db"  # not monitor.db, so a test may use `db_path` beside its world


LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def no_remote_hosts():
    """Tests never reach a remote host: a host name other than localhost does not resolve in this process
    (as on a machine without a network), so a test whose items carry https://example.vn/… links fails to
    fetch them at once instead of asking a resolver. Address literals resolve as usual (no lookup), so the
    fetcher's own address guard still sees and refuses 10.0.0.1 or 169.254.169.254."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name.lower() in LOCAL_NAMES or _literal(name):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"tests reach no remote host ({name})")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", local_only)
        yield


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Every password hashed in this process (users made by tests, the dummy hash) uses TEST_HASH_METHOD."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db.users, "generate_password_hash",
                      functools.partial(generate_password_hash, method=TEST_HASH_METHOD))
        db.users._dummy_hash.cache_clear()
        yield
    db.users._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """`helpers.build` once for the session: (path, ids). Never opened again, so copies of it are clean."""
    path = tmp_path_factory.mktemp("world") / WORLD_DB
    ids = helpers.build(path)
    assert not Path(f"{path}-wal").exists(), "the builder left a write-ahead log: copy it too"
    return path, ids


@pytest.fixture()
def world(built_world: tuple[Path, dict], tmp_path: Path) -> tuple[Path, dict]:
    """The built world, copied into this test's tmp_path: (path, ids). Write to it freely."""
    source, ids = built_world
    return helpers.copy_database(source, tmp_path), copy.deepcopy(ids)


def _content(path: Path) -> str:
    """A digest of everything in the database (a few milliseconds for the world)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def _shared(built_world: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory):
    """One copy of the world and one app on it for the whole session (per xdist worker), and its digest."""
    source, ids = built_world
    path = helpers.copy_database(source, tmp_path_factory.mktemp("shared-world"))
    app = helpers.make_app(path)
    return path, ids, app, _content(path)


def _unchanged(path: Path, digest: str) -> None:
    assert _content(path) == digest, "a test on the shared world wrote to it: give it `world`, its own copy"


@pytest.fixture()
def shared_world(_shared) -> tuple[Path, dict]:
    """The session's copy of the world, for a test that only reads: (path, ids). Checked unchanged after."""
    path, ids, _app, digest = _shared
    yield path, copy.deepcopy(ids)
    _unchanged(path, digest)


@pytest.fixture()
def shared_app(_shared):
    """The session's app (helpers.make_app) on the shared world, for a test that only reads: (app, path, ids).
    Checked unchanged after; a test that changes the app's config or writes takes `world` and its own app."""
    path, ids, app, digest = _shared
    yield app, path, copy.deepcopy(ids)
    _unchanged(path, digest)


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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server]:
    """A throw-away PostgreSQL cluster for this session (or xdist worker), started on first use."""
    try:
        server = pg.start()
    except pg.Unavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture()
def pg_url(pg_server: pg.Server) -> Iterator[str]:
    """The URL of a fresh, empty database for this test (not migrated), dropped afterwards."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture()
def pg_template(pg_server: pg.Server) -> Iterator[Callable[[str, Callable[[str], Any]], tuple[str, Any]]]:
    """`pg_template(name, build)`: (URL, value) of this test's own copy of the database `build(url)` made
    once per session under `name` (value: a deep copy of what build returned). Copies dropped afterwards."""
    made: list[str] = []

    def copy_of(name: str, build: Callable[[str], Any]) -> tuple[str, Any]:
        url, value = pg_server.copy_of(name, build)
        made.append(url)
        return url, value

    yield copy_of
    for url in made:
        pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend this run of the test is on; a test or module taking it runs once per backend."""
    return request.param


@pytest.fixture()
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where this test's database lives, for `db.connect` or `--db`: a SQLite file path in tmp_path (not
    created yet) or a fresh PostgreSQL database's URL. The SQLite case never starts the server."""
    if backend == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture()
def any_db(backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A connected, migrated database on this run's backend. On PostgreSQL, which has no file for the audit
    key and checkpoints to sit beside, MONITOR_AUDIT_KEY_FILE and MONITOR_STATE_DIR point into tmp_path
    (db/keys.py, db/checkpoints.py); on SQLite neither is set, so the files sit beside the database as usual."""
    if backend == "postgresql":
        monkeypatch.setenv("MONITOR_AUDIT_KEY_FILE", str(tmp_path / "audit-key"))
        monkeypatch.setenv("MONITOR_STATE_DIR", str(tmp_path))
    database = db.connect(database_url)
    yield database
    database.conn.close()


@pytest.fixture()
def any_world(any_db, database_url: str) -> tuple[str, dict]:
    """helpers.build's small world on this run's backend: (database path or URL, ids), for tests of the
    storage layer that run on both (`world` is the SQLite file the web tests share a build of)."""
    return database_url, helpers.build(database_url)


def _corpus_parts(item: pytest.Item) -> tuple[str, ...]:
    """The corpus parts an item reads: the union of its `corpus` marks (no argument: all of them)."""
    parts: list[str] = []
    for mark in item.iter_markers("corpus"):
        parts += mark.args or corpus.PARTS
    return tuple(dict.fromkeys(parts))


@pytest.hookimpl(trylast=True)  # after -k / -m have chosen: count only what would otherwise run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out (deselect) the corpus tests whose part of the shared corpus is not there."""
    kept, left_out, absent, selected = [], [], set(), set()
    for item in items:
        parts = _corpus_parts(item)
        gone = corpus.missing(parts) if parts else []
        if gone:
            left_out.append(item)
            absent.update(gone)
            continue
        kept.append(item)
        if parts:
            selected.add(item.nodeid)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
    config.stash[CORPUS_RUN] = {"selected": selected, "left_out": len(left_out), "absent": sorted(map(str, absent))}


def _tests(count: int) -> str:
    return f"{count} test" if count == 1 else f"{count} tests"


def _corpus_tests_run(reporter, selected: set[str]) -> int:
    """How many of the selected corpus tests actually ran (reached their call, or failed in setup)."""
    done = set()
    for reports in reporter.stats.values():
        for report in reports:
            nodeid, when = getattr(report, "nodeid", None), getattr(report, "when", None)
            if nodeid in selected and (when == "call" or (when == "setup" and report.failed)):
                done.add(nodeid)
    return len(done)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line on the research corpus: how many tests ran from it, or were left out and why."""
    state = config.stash.get(CORPUS_RUN, None)
    if state is None or not (state["selected"] or state["left_out"]):
        return
    said = []
    if state["selected"]:
        verb = "collected" if config.option.collectonly else "ran"
        count = len(state["selected"]) if config.option.collectonly else _corpus_tests_run(
            terminalreporter, state["selected"])
        said.append(f"{_tests(count)} {verb} in addition from {corpus.SHARED}")
    if state["left_out"]:
        said.append(f"{_tests(state['left_out'])} left out — {', '.join(state['absent'])} not found "
                    f"(put the shared corpus beside the repository as ../shared, or set {corpus.ENV})")
    terminalreporter.write_line("research corpus: " + "; ".join(said))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand the corpus tally to the controller, which prints the summary line."""
    output = getattr(session.config, "workeroutput", None)
    state = session.config.stash.get(CORPUS_RUN, None)
    if output is not None and state is not None:
        output["corpus_run"] = {**state, "selected": sorted(state["selected"])}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called where xdist runs the tests
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: every worker collects (and leaves out) the same tests, so one tally serves."""
    state = getattr(node, "workeroutput", {}).get("corpus_run")
    if state is not None and CORPUS_RUN not in node.config.stash:
        node.config.stash[CORPUS_RUN] = {**state, "selected": set(state["selected"])}


@pytest.fixture()
def any_alert_world(any_db, database_url: str):
    """alert_world on this run's backend: the scan, the outbox and the senders' cases run on both."""
    from tests.alert_support import World

    built = World(database_url)
    yield built
    built.database.conn.close()


@pytest.fixture()
def alert_world(tmp_path: Path):
    """A fresh tests.alert_support.World (five sources, users, stories) for one test, closed afterwards."""
    from tests.alert_support import World

    built = World(tmp_path / "monitor.db")
    yield built
    built.database.conn.close()
