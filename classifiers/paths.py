"""Where the shipped model lives, importable without numpy and scipy: the registry and `monitor serve`'s start-up
(which lists the model versions) need the path, not the model, and importing classifiers.model costs scipy.sparse
(~15 MB resident, issue 17 §3)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.skops"
