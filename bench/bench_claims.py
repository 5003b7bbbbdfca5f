"""Claim matching cost (issue 11): milliseconds per ~100-word item against a library of 10,000 claims.

The library is the hand-written claims of tests/fixtures/claims plus synthetic ones: sentences of 10-25
syllables drawn (Zipf-like) from the fixtures' own vocabulary, so posting lists are as long as real
Vietnamese text makes them. Items are ~100-word posts built from the fixtures' rewrites and negatives.
Times `ClaimIndex.match` (folding, teencode, features, index look-up) and the index build.

Prints `FIGURE claims_ms_per_item: ... (target: ≤ 1 ms)`.
Run: ``python bench/bench_claims.py [--claims 10000] [--items 2000]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import argparse
import json
import random
import time

from classifiers.claims import ClaimIndex

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "claims"


def _fixture_texts() -> tuple[list[str], list[str]]:
    pairs = [json.loads(line) for line in (FIXTURES / "pairs.jsonl").open(encoding="utf-8")]
    negatives = [json.loads(line)["text"] for line in (FIXTURES / "negatives.jsonl").open(encoding="utf-8")]
    claims = list(dict.fromkeys(p["claim"] for p in pairs))
    return claims, [p["rewrite"] for p in pairs] + negatives


def library(n: int, rng: random.Random) -> list[tuple[int, str]]:
    """n claims: the fixtures' claims, then synthetic sentences from their vocabulary."""
    claims, texts = _fixture_texts()
    words = [w for t in claims + texts for w in t.split()]
    ranked = sorted(set(words), key=words.count, reverse=True)
    weights = [1.0 / (rank + 1) for rank in range(len(ranked))]
    out = list(claims)
    while len(out) < n:
        out.append(" ".join(rng.choices(ranked, weights, k=rng.randint(10, 25))))
    return list(enumerate(out[:n], start=1))


def items(n: int, rng: random.Random) -> list[str]:
    """n posts of ~100 words, each a few fixture texts run together."""
    _, texts = _fixture_texts()
    out = []
    for _ in range(n):
        post: list[str] = []
        while len(post) < 100:
            post += rng.choice(texts).split()
        out.append(" ".join(post[:100]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=2_000)
    args = parser.parse_args()
    rng = random.Random(11)
    claims, posts = library(args.claims, rng), items(args.items, rng)
    start = time.perf_counter()
    index = ClaimIndex(claims)
    build = time.perf_counter() - start
    for post in posts[:50]:  # warm the folding caches, as a running service has them
        index.match(post)
    start = time.perf_counter()
    matched = sum(bool(index.match(post)) for post in posts)
    per_item = (time.perf_counter() - start) / len(posts) * 1000
    print(f"claims indexed: {len(index)} (of {len(claims)}), index built in {build:.2f} s; "
          f"{matched}/{len(posts)} items matched a claim")
    print(f"FIGURE claims_ms_per_item: {per_item:.3f} ms per ~100-word item at {len(claims)} claims (target: ≤ 1 ms)")


if __name__ == "__main__":
    main()
