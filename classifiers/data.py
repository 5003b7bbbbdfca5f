"""Loading the staged datasets and mapping their labels onto the model's heads.

The data lives outside the repo (``../shared/data`` relative to the repo root, or
``$MONITOR_DATA_DIR``) and is never copied in; only derived model weights are shipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vocab import Category

LIAR_LABELS = ["pants-fire", "false", "barely-true", "half-true", "mostly-true", "true"]
LIAR_FALSE = {"pants-fire", "false", "barely-true"}


def data_dir() -> Path:
    """Where the staged datasets are: $MONITOR_DATA_DIR or <repo>/../shared/data."""
    env = os.environ.get("MONITOR_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def seeds_dir() -> Path:
    """Seed articles (real news ABOUT misinformation) that must never be flagged."""
    return data_dir().parent / "seeds"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: which category it trains and how its raw label maps to binary / multi-class."""

    name: str
    category: Category
    # the kind of item the corpus holds ("post", "article", "comment"): its head scores that kind
    kind: str = "post"
    n_classes: int = 2  # >2: also trains a multi-class head for evaluation
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def binary(self, label: object) -> int:
        """Category label: 1 = misinformation / harmful."""
        if self.name == "en_liar":
            return int(label in LIAR_FALSE)
        if self.name == "en_constraint_covid19":
            return int(label == "fake")
        return int(int(label) > 0)

    def multi(self, label: object) -> int:
        """Class index for multi-class heads (LIAR ordinal, CLEAN/OFFENSIVE/HATE)."""
        if self.name == "en_liar":
            return LIAR_LABELS.index(str(label))
        return int(label)


# Kinds: ReINTEL, CONSTRAINT (tweets), ViHSD (Facebook/YouTube comments) and VLSP-2019 (Facebook posts
# and comments) are social posts; VFND and vnnews are news articles and their headlines, OBSINFOX
# article titles, LIAR politicians' claims as reported by PolitiFact; ViCTSD is comments under
# VnExpress articles.
DATASETS: list[DatasetSpec] = [
    DatasetSpec("vi_reintel2020", Category.MISINFORMATION, "post"),
    DatasetSpec("vi_vfnd", Category.MISINFORMATION, "article"),
    DatasetSpec("vi_vnnews_v2", Category.MISINFORMATION, "article"),
    DatasetSpec("en_constraint_covid19", Category.MISINFORMATION, "post"),
    DatasetSpec("en_liar", Category.MISINFORMATION, "article", 6, tuple(LIAR_LABELS)),
    DatasetSpec("fr_obsinfox_titles", Category.MISINFORMATION, "article"),
    DatasetSpec("vi_vihsd", Category.HARM, "post", 3, ("CLEAN", "OFFENSIVE", "HATE")),
    DatasetSpec("vi_victsd_toxicity", Category.HARM, "comment"),
    DatasetSpec("vi_vlsp2019_hsd", Category.HARM, "post", 3, ("CLEAN", "OFFENSIVE", "HATE")),
]
SPECS = {d.name: d for d in DATASETS}


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_split(name: str, split: str, root: Path | None = None) -> list[dict]:
    """Rows of one split ('train', 'dev', 'test') of one dataset."""
    return read_jsonl((root or data_dir()) / name / f"{split}.jsonl")


def load_meta(name: str, root: Path | None = None) -> dict[str, dict]:
    """meta.jsonl keyed by id (empty if the dataset has none)."""
    path = (root or data_dir()) / name / "meta.jsonl"
    if not path.exists():
        return {}
    return {row["id"]: row for row in read_jsonl(path)}
