"""Learning from decisions (issue 18): do 50 moderator decisions change what gets flagged on unseen items?

A simulated, consistent moderator decides 50 consecutive items of a stream; the real code path adapts
the shipped model to those decisions and gates it (``classifiers.registry.adapt_candidate``:
time-ordered held-out slice, flag-rate band on the installation's recent items). Figures are measured
on the items *after* the decided ones (unseen), before and after, with the flags ``Model.score`` gives
(watchlist included). Streams:

- ``synthetic``: the installation of tests/test_adapt.py, a made-up local rumour (a new tap-water fee)
  that the moderator confirms and ordinary local news that they dismiss; recent items 5 % rumour.
- ``vi_reintel2020``: ReINTEL *dev* posts by publication time, the ReINTEL label as the moderator;
- ``vi_vihsd``: ViHSD *dev* comments in file order (no times), its label as the moderator (harm).
  Research streams run from six start points (the share of positives drifts along them: ReINTEL 62 %
  in the oldest 50 posts, 6-26 % later); the posts seen so far are the recent items. A warning is
  printed when the shipped head was refit on that dev split (then "before" is in-sample).

Never a test split. Prints ``FIGURE`` lines for bench/RESULTS.md.
Run: ``python bench/bench_adapt.py [--stream synthetic] [--compare]`` (research streams need ../shared/data).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import argparse
import datetime as dt
import tempfile
from dataclasses import dataclass

import numpy as np

from classifiers import adapt
from classifiers.data import SPECS, load_meta, load_split
from classifiers.model import Model, load_model
from classifiers.registry import Registry, adapt_candidate, propose

N_DECISIONS = 50
N_WINDOWS = 6
TARGET_PRECISION = {"misinformation": 0.7, "harm": 0.75}  # the precision targets for flags
STREAMS = ("synthetic", "vi_reintel2020", "vi_vihsd")


@dataclass
class Stream:
    """Items in the order a moderator meets them (``text``, ``y`` the moderator's label, ``at``)."""

    name: str
    category: str
    kind: str
    rows: list[dict]
    starts: list[int]
    recent: list[dict] | None = None  # the installation's recent items; None: the stream seen so far


def research_stream(name: str) -> Stream:
    """A dataset's dev items in stream order, each with a time: ReINTEL's publication time, else one
    minute per item in file order."""
    meta, spec = load_meta(name), SPECS[name]
    rows = load_split(name, "dev")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i, r in enumerate(rows):
        stamp = (meta.get(r["id"]) or {}).get("timestamp_post")
        at = dt.datetime.fromtimestamp(float(stamp), dt.UTC) if stamp else start + dt.timedelta(minutes=i)
        r["at"], r["y"] = at.strftime("%Y-%m-%dT%H:%M:%SZ"), spec.binary(r["label"])
    rows.sort(key=lambda r: r["at"])
    step = max((len(rows) - 2 * N_DECISIONS) // (N_WINDOWS - 1), 1)
    return Stream(name, spec.category, spec.kind, rows, [i * step for i in range(N_WINDOWS)])


def synthetic_stream() -> Stream:
    """tests/test_adapt.py's installation: its 50 decisions, then its 60 unseen posts."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_adapt as t

    rows = [{"text": d["text"], "y": d["label"], "at": d["decided_at"]} for d in t.decisions(N_DECISIONS)]
    unseen = [(text, 1) for text in t.UNSEEN_RUMOURS] + [(text, 0) for text in t.UNSEEN_NEWS]
    rows += [{"text": text, "y": y, "at": "2026-12-01T00:00:00Z"} for text, y in unseen]
    return Stream("synthetic", "misinformation", "post", rows, [0], t.recent(5, 95))


def flags(model: Model, rows: list[dict], category: str, kind: str) -> np.ndarray:
    """Whether `Model.score` flags each item for `category`."""
    scores = model.score([r["text"] for r in rows], explain=False, kinds=[kind] * len(rows))
    return np.array([category in s.flagged for s in scores])


def figures(flagged: np.ndarray, y: np.ndarray) -> dict:
    """Flag rate, precision and recall of some flags against the ReINTEL labels."""
    hits = int((flagged & (y == 1)).sum())
    return {"flagged": int(flagged.sum()), "hits": hits, "rate": float(flagged.mean()),
            "recall": hits / max(int(y.sum()), 1),
            "precision": hits / int(flagged.sum()) if flagged.any() else float("nan")}


def run_window(shipped: Model, stream: Stream, start: int, variants: dict) -> dict:
    """Adapt on the stream's items [start, start+N) (with one set of variants), gate it, measure it
    on the later items."""
    rows, category, kind = stream.rows, stream.category, stream.kind
    decided, future = rows[start : start + N_DECISIONS], rows[start + N_DECISIONS :]
    decisions = [{"text": r["text"], "category": category, "label": r["y"], "kind": kind, "decided_at": r["at"]}
                 for r in decided]
    seen = stream.recent or [{"text": r["text"], "kind": kind} for r in rows[: start + N_DECISIONS]]
    saved = dict(adapt.VARIANTS)
    adapt.VARIANTS.clear()
    adapt.VARIANTS.update(variants)
    try:
        with tempfile.TemporaryDirectory() as root:
            candidate = adapt_candidate(decisions, recent=seen, registry_root=root)
            if candidate.get("waiting"):
                return {"start": start, "waiting": candidate["reason"]}
            verdict = propose(candidate)
            model = load_model(Registry(root).model_path(candidate["version"]))
    finally:
        adapt.VARIANTS.clear()
        adapt.VARIANTS.update(saved)
    y = np.array([r["y"] for r in future])
    rec = candidate["gate"]["categories"][category]
    before, after = figures(flags(shipped, future, category, kind), y), figures(flags(model, future, category, kind), y)
    return {"start": start, "positives": int(sum(d["label"] for d in decisions)), "future": len(future),
            "future_false": int(y.sum()), "chosen": rec["chosen"], "promoted": verdict["promoted"],
            "reasons": verdict["reasons"], "heldout": {k: v["log_loss"] for k, v in rec["variants"].items()},
            "heldout_active": rec["active"]["log_loss"], "before": before, "candidate": after,
            "in_use": after if verdict["promoted"] else before}


def pooled(results: list[dict], when: str) -> dict:
    """Precision and recall over all windows' future posts together."""
    flagged = sum(r[when]["flagged"] for r in results)
    hits = sum(r[when]["hits"] for r in results)
    false = sum(r["future_false"] for r in results)
    return {"flagged": flagged, "rate": flagged / sum(r["future"] for r in results),
            "precision": hits / flagged if flagged else float("nan"), "recall": hits / false}


def show(label: str, f: dict) -> str:
    return f"{label} flags {f['rate']:.1%} (recall {f['recall']:.1%}, precision {f['precision']:.2f})"


def report(label: str, results: list[dict], category: str) -> None:
    """Per-window lines and the pooled FIGURE lines of one run."""
    print(f"== {label}")
    for r in results:
        if "waiting" in r:
            print(f"  start {r['start']}: waits ({r['waiting']})")
            continue
        held = ", ".join(f"{k} {v:.3f}" for k, v in r["heldout"].items())
        print(f"  start {r['start']:4d}: {r['positives']}/{N_DECISIONS} confirmed; held-out log-loss in use "
              f"{r['heldout_active']:.3f}, {held} -> {r['chosen']}; "
              f"{'promoted' if r['promoted'] else 'refused: ' + '; '.join(r['reasons'])}")
        print(f"      on the {r['future']} later items ({r['future_false']} positive): "
              f"{show('before', r['before'])}; {show('candidate', r['candidate'])}")
    done = [r for r in results if "waiting" not in r]
    if not done:
        return
    before, cand, in_use = (pooled(done, k) for k in ("before", "candidate", "in_use"))
    name = label.replace(" ", "_")
    print(f"FIGURE {name}.candidate:{show('', cand)} vs {show('shipped', before)} over {len(done)} windows "
          f"(target: more recall than the shipped model at precision >= {TARGET_PRECISION[category]})")
    print(f"FIGURE {name}.after_gate:{show('', in_use)} ({sum(r['promoted'] for r in done)} of {len(done)} promoted)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stream", choices=STREAMS, action="append", help="stream(s) to run (default: all)")
    ap.add_argument("--compare", action="store_true", help="also run each variant alone on every window")
    args = ap.parse_args()
    shipped = load_model()
    print(f"model {shipped.version}")
    for name in args.stream or STREAMS:
        stream = synthetic_stream() if name == "synthetic" else research_stream(name)
        head = (shipped.state.get("dev_metrics") or {}).get(name) or {}
        print(f"{name}: {len(stream.rows)} {stream.kind}s, {sum(r['y'] for r in stream.rows)} {stream.category}")
        if head.get("refit_on_dev"):
            print(f"WARNING: the shipped {name} head was refit on train+dev: 'before' is in-sample there")
        runs = {f"{name}.adapt50": dict(adapt.VARIANTS)}
        if args.compare:
            runs.update({f"{name}.{v}": {v: l2} for v, l2 in adapt.VARIANTS.items()})
        for label, variants in runs.items():
            report(label, [run_window(shipped, stream, s, variants) for s in stream.starts], stream.category)


if __name__ == "__main__":
    main()
