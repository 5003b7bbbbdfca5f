"""Which model scores items: an explicit file, else the registry's active version, else the shipped one.

Every path that scores (crawl, import, the report form, the scheduler, `monitor classify`) gets its
model here, so promoting or rolling back a version in the registry changes what all of them use.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifiers.heap import release_free_memory
from classifiers.paths import DEFAULT_MODEL
from classifiers.registry import Registry, default_root

if TYPE_CHECKING:  # the database layer is imported where it is used: `monitor classify` needs none of it
    import sqlite_utils

    from classifiers.model import Model

RECHECK_SECONDS = 30.0
log = logging.getLogger(__name__)


def active_model_path(registry_root: str | Path | None = None) -> Path:
    return Registry(registry_root or default_root()).active_model_path()


def watchlist_path() -> str | None:
    """$MONITOR_WATCHLIST: the committee's own watchlist file (default: classifiers/watchlist.yaml)."""
    return os.environ.get("MONITOR_WATCHLIST") or None


def load_model(path: str | Path, watchlist: str | Path | None = None) -> Model:
    """classifiers.model.load_model, imported on the first load: `monitor serve` lists the model versions at
    start (sync_models_table) without ever scoring, and the model module costs it scipy.sparse (~15 MB)."""
    from classifiers import model

    return model.load_model(path, watchlist)


def load_scorer(model_path: str | Path | None = None, registry_root: str | Path | None = None) -> Model:
    """The model to score with now."""
    return load_model(model_path or active_model_path(registry_root), watchlist_path())


class ActiveScorer:
    """A scorer for long-running processes that follows the registry's active version.

    It re-reads the registry at most every RECHECK_SECONDS and swaps models when a version was
    promoted or rolled back, so the scheduler picks up the nightly retrain without a restart. A
    promoted file that cannot be loaded (damaged, refused by the allow-list, an older feature
    scheme) is logged once and the current model keeps scoring: a bad promotion never stops a crawl.
    `on_refused` hears of it too, with {"model_path", "error", "current_version"}, and with None once the
    active model loads, so the scheduler can record the refusal where /health reads it (db.state.scorer_problem).
    """

    def __init__(self, registry_root: str | Path | None = None, recheck_seconds: float = RECHECK_SECONDS,
                 on_refused: Callable[[dict | None], None] | None = None):
        self.registry_root = registry_root
        self.recheck_seconds = recheck_seconds
        self._on_refused = on_refused
        self._refusing = False
        self._lock = threading.Lock()
        self._path = active_model_path(registry_root)
        self._refused: tuple | None = None  # _stamp() of a load that failed: retried once a file changes
        try:
            self._model = load_model(self._path, watchlist_path())
        except Exception as exc:  # noqa: BLE001 - a restart must not fail on a bad promotion either
            if self._path == DEFAULT_MODEL:
                raise
            log.error("cannot load the promoted model (or the watchlist); scoring with the shipped one",
                      extra={"model_path": str(self._path), "error": f"{type(exc).__name__}: {exc}"})
            refused_path = self._path
            self._refused, self._path = _stamp(self._path), DEFAULT_MODEL
            self._model = load_model(DEFAULT_MODEL, watchlist_path())
            self._tell(refused_path, exc)
        else:
            self._tell(None, None)
        release_free_memory()  # loading freed several times what the model keeps (see classifiers.heap)
        self._checked = time.monotonic()

    def _tell(self, refused_path: Path | None, exc: BaseException | None) -> None:
        """Pass a refusal (or, with None, its end) to `on_refused`; a failing listener never stops scoring."""
        self._refusing = refused_path is not None
        if self._on_refused is None:
            return
        detail = None if refused_path is None else {
            "model_path": str(refused_path), "error": f"{type(exc).__name__}: {exc}"[:500],
            "current_version": self._model.version}
        try:
            self._on_refused(detail)
        except Exception:  # noqa: BLE001 - recording the refusal is secondary to scoring
            log.exception("could not record the scorer's state")

    @property
    def model(self) -> Model:
        with self._lock:
            if time.monotonic() - self._checked >= self.recheck_seconds:
                self._checked = time.monotonic()
                path = active_model_path(self.registry_root)
                stamp = _stamp(path)  # taken before loading: a file still being written gets retried
                if path != self._path and stamp != self._refused:
                    try:
                        self._model, self._path = load_model(path, watchlist_path()), path
                    except Exception as exc:  # noqa: BLE001 - keep scoring with the model we have
                        self._refused = stamp
                        log.error("cannot load the promoted model (or the watchlist); still scoring with the current one",
                                  extra={"model_path": str(path), "current_version": self._model.version,
                                         "error": f"{type(exc).__name__}: {exc}"})
                        self._tell(path, exc)
                    else:
                        self._tell(None, None)
                        release_free_memory()  # the loading's temporaries, and the model replaced
                elif path == self._path and self._refusing:
                    self._tell(None, None)  # rolled back to the model in use: nothing is refused any more
            return self._model

    @property
    def version(self) -> str:
        return self.model.version

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[Any]:
        """Score with the current model; `kinds` (post/article/comment per text) picks each text's calibration."""
        return score_texts(self.model, texts, kinds)


def score_texts(scorer: Any, texts: list[str], kinds: list[str] | None) -> list[Any]:
    """`scorer.score(texts, kinds=kinds)`, or `scorer.score(texts)` when the scorer takes no `kinds`.

    Every path that scores passes the items' kinds through here, so a scorer without per-kind
    calibration (a test double, a model class that predates kinds) keeps working and scores every
    kind alike, as all scorers did before kinds existed."""
    try:
        parameters = inspect.signature(scorer.score).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no signature to read
        parameters = {}
    takes_kinds = "kinds" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    return scorer.score(texts, kinds=kinds) if takes_kinds else scorer.score(texts)


def _stamp(path: Path) -> tuple:
    """What a failed load depended on: the model file and the watchlist file, with their mtimes."""
    def mtime(p: Path | str | None) -> int | None:
        try:
            return Path(p).stat().st_mtime_ns if p else None
        except OSError:
            return None
    watchlist = watchlist_path()
    return path, mtime(path), watchlist, mtime(watchlist)


def _model_files(registry_root: str | Path | None) -> list[tuple[str, Path, bool]]:
    """(version, skops path, active) for the shipped default and every registry version."""
    registry = Registry(registry_root or default_root())
    active = registry.active
    found = [(json.loads(DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))["version"],
              DEFAULT_MODEL, active is None)]
    for entry in registry.list():
        found.append((entry["version"], registry.model_path(entry["version"]), bool(entry["active"])))
    return found


def sync_models_table(database: sqlite_utils.Database, registry_root: str | Path | None = None) -> int:
    """Mirror the model versions (shipped + registry) into the `models` table the web UI and reports read.

    The registry on disk stays the source of truth; this keeps the database's view of it current.
    Returns the number of versions recorded.
    """
    from db import utcnow
    from db.models import replace_models

    rows = []
    for version, path, active in _model_files(registry_root):
        meta_path, card_path = path.with_suffix(".json"), path.with_suffix(".card.md")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        rows.append((version, str(path), meta.get("created") or utcnow(),
                     json.dumps(meta.get("test_metrics") or {}, ensure_ascii=False),
                     card_path.read_text(encoding="utf-8") if card_path.exists() else "", int(active)))
    replace_models(database, rows)
    return len(rows)
