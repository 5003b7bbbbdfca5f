"""`monitor train`, `monitor eval`, `monitor model list|promote|rollback`.

Thin CLI over ``classifiers`` (which knows nothing of the DB): decisions reach training as
``{"text", "category", "label"}`` examples, either from a JSONL file (--extra) or, when the
integrator wires it, from the DB via ``monitor.retrain.collect_examples``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="retrain the classifier (base data + moderator decisions)",
                              description="Train on ../shared/data train splits (+ decisions), tune on dev, "
                                          "evaluate on test, store in the model registry and promote it "
                                          "unless a test metric regresses beyond the tolerance.")
    p.add_argument("--out", metavar="PATH", help="write the model file here instead of the registry (no promotion)")
    p.add_argument("--extra", metavar="JSONL", help="decision examples, one {text, category, label} per line")
    p.add_argument("--from-db", action="store_true", help="also use the decisions recorded in the database")
    p.add_argument("--registry", metavar="DIR", help="model registry directory (default: $MONITOR_MODEL_DIR, "
                                                      "$MONITOR_HOME/models or ~/.local/share/vi-misinfo-monitor/models)")
    p.add_argument("--no-promote", action="store_true", help="store the new version but do not promote it")
    p.add_argument("--tolerance", type=float, default=None, help="allowed drop per test metric (default 0.01)")
    p.add_argument("--target-precision", type=float, default=None, help="precision the dev thresholds aim for")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("eval", help="evaluate the classifier on every dataset's test split",
                              description="Per dataset: precision, recall, macro-F1, ROC-AUC, confusion matrix.")
    p.add_argument("--model", metavar="PATH", help="model file (default: the active registry version or the shipped one)")
    p.add_argument("--registry", metavar="DIR")
    p.add_argument("--json", metavar="PATH", help="also write the metrics as JSON")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("model", help="list, promote or roll back classifier versions")
    p.add_argument("--registry", metavar="DIR")
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="stored versions with their key test metrics")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_model_list)
    q = sub.add_parser("promote", help="make a version active (refused if a metric regresses)")
    q.add_argument("version")
    q.add_argument("--tolerance", type=float, default=None)
    q.add_argument("--force", action="store_true", help="promote despite regressions")
    q.set_defaults(func=cmd_model_promote)
    q = sub.add_parser("rollback", help="re-activate the previously promoted version")
    q.set_defaults(func=cmd_model_rollback)


def _registry(args: argparse.Namespace):
    from classifiers.registry import Registry, default_root

    return Registry(getattr(args, "registry", None) or default_root())


def _syncs_models(handler):
    """After a command that changes the registry, mirror it into the database's `models` table."""

    def wrapped(args: argparse.Namespace) -> int:
        code = handler(args)
        import db
        from monitor.scoring import sync_models_table

        database = db.connect(args.db)
        try:
            sync_models_table(database, getattr(args, "registry", None))
        finally:
            database.conn.close()
        return code

    wrapped.__doc__ = handler.__doc__
    return wrapped


def _db_examples(db_path: str) -> list[dict]:
    import db
    from monitor.retrain import collect_examples

    database = db.connect(db_path)
    try:
        return collect_examples(database)
    finally:
        database.conn.close()


@_syncs_models
def cmd_train(args: argparse.Namespace) -> int:
    from classifiers.registry import DEFAULT_TOLERANCE, propose
    from classifiers.train import print_progress, read_examples, train_and_save, train_from_examples

    examples: list[dict] = []
    if args.extra:
        examples += read_examples(args.extra)
    if args.from_db:
        examples += _db_examples(args.db)
    kwargs = {} if args.target_precision is None else {"target_precision": args.target_precision}
    print(f"training with {len(examples)} decision example(s)", file=sys.stderr)
    if args.out:
        state = train_and_save(Path(args.out), print_progress, examples, **kwargs)
        print(f"wrote {args.out} (version {state['version']}, thresholds {state['thresholds']})")
        return 0
    reg = _registry(args)
    candidate = train_from_examples(examples, print_progress, registry_root=reg.root, **kwargs)
    print(f"stored version {candidate['version']} in {reg.root}")
    if args.no_promote:
        return 0
    verdict = propose(candidate, args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE)
    if verdict["promoted"]:
        print(f"promoted {verdict['version']}")
        return 0
    print(f"NOT promoted {verdict['version']}: regressions:")
    for reason in verdict["reasons"]:
        print(f"  {reason}")
    return 1


def cmd_eval(args: argparse.Namespace) -> int:
    from classifiers.evaluate import evaluate, format_table, seed_check
    from classifiers.model import load_model

    path = args.model or _registry(args).active_model_path()
    model = load_model(path)
    results = evaluate(model)
    print(f"model {model.version} ({path})")
    print(format_table(results))
    seeds = seed_check(model)
    print(f"seed articles flagged: {sum(bool(s['flagged']) for s in seeds)} of {len(seeds)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"version": model.version, "results": results, "seeds": seeds},
                                              indent=1), encoding="utf-8")
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    rows = reg.list()
    if args.json:
        print(json.dumps({"active": reg.active, "versions": rows}, indent=1))
        return 0
    if not rows:
        print(f"no versions in {reg.root}; using the shipped default model")
        return 0
    for r in rows:
        m = r["metrics"]
        key = {k: round(v, 3) for k, v in m.items() if k.split("/")[0] in
               ("vi_reintel2020", "vi_vihsd", "vi_victsd_toxicity") and k.endswith(("roc_auc", "macro_f1"))}
        print(f"{'*' if r['active'] else ' '} {r['version']}  {r['created']}  extra={r['n_extra']}  {key}")
    if reg.active is None:
        print("(active: shipped default model)")
    return 0


@_syncs_models
def cmd_model_promote(args: argparse.Namespace) -> int:
    from classifiers.registry import DEFAULT_TOLERANCE

    reg = _registry(args)
    tol = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE
    try:
        promoted, reasons = reg.promote(args.version, tol, force=args.force)
    except KeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for reason in reasons:
        print(f"  regression: {reason}")
    print(f"{'promoted' if promoted else 'NOT promoted'} {args.version}")
    return 0 if promoted else 1


@_syncs_models
def cmd_model_rollback(args: argparse.Namespace) -> int:
    reg = _registry(args)
    try:
        active = reg.rollback()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"active: {active or 'shipped default model'}")
    return 0
