"""`monitor train`, `monitor eval`, `monitor model list|promote|rollback`.

Thin CLI over ``classifiers`` (which knows nothing of the DB). ``train --from-db`` adapts the
model in use to the database's decisions (``monitor.schedule.retrain.collect_examples``) and needs no
research data; plain ``train`` retrains on ``../shared/data`` (plus ``--extra`` JSONL decisions).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.cli import CliError, require_database


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="adapt the classifier to the decisions (--from-db) or retrain it",
                              description="--from-db: adapt the model in use to the moderators' decisions in the "
                                          "database (no research data needed); promoted when it beats the model in "
                                          "use on the most recent decisions and keeps the flag rate of recent items "
                                          "within a band. Without it: retrain on ../shared/data train splits "
                                          "(+ --extra decisions), tune on dev, promoted unless a dev metric regresses "
                                          "beyond the tolerance.")
    p.add_argument("--out", metavar="PATH", help="retrain: write the model file here instead of the registry (no promotion)")
    p.add_argument("--extra", metavar="JSONL", help="retrain: decision examples, one {text, category, label} per line")
    p.add_argument("--from-db", action="store_true", help="adapt the model in use to the decisions in the database")
    p.add_argument("--registry", metavar="DIR", help="model registry directory (default: $MONITOR_MODEL_DIR, "
                                                      "$MONITOR_HOME/models or ~/.local/share/vi-misinfo-monitor/models)")
    p.add_argument("--no-promote", action="store_true", help="store the new version but do not promote it")
    p.add_argument("--tolerance", type=float, default=None, help="retrain: allowed drop per dev metric (default 0.01)")
    p.add_argument("--target-precision", type=float, default=None, help="retrain: precision the dev thresholds aim for")
    p.add_argument("--first-stage-only", action="store_true", help="retrain: without the sentence-embedding second "
                                                                   "stage the shipped model has (faster; weaker on "
                                                                   "ReINTEL posts and ViCTSD comments)")
    p.add_argument("--flag-ratio", type=float, default=None, help="--from-db: the flag rate may grow or shrink by this "
                                                                  "factor (default 2)")
    p.add_argument("--flag-rise", type=float, default=None, help="--from-db: ... or rise by this share of items "
                                                                 "(default 0.10)")
    p.set_defaults(func=cmd_train, needs_db=False)  # --from-db checks for it; a retrain needs none

    p = subparsers.add_parser("eval", help="evaluate the classifier on every dataset's test split",
                              description="Per dataset: precision, recall, macro-F1, ROC-AUC, confusion matrix.")
    p.add_argument("--model", metavar="PATH", help="model file (default: the active registry version or the shipped one)")
    p.add_argument("--registry", metavar="DIR")
    p.add_argument("--json", metavar="PATH", help="also write the metrics as JSON")
    p.set_defaults(func=cmd_eval, needs_db=False)

    p = subparsers.add_parser("model", help="list, promote or roll back classifier versions")
    p.add_argument("--registry", metavar="DIR")
    p.set_defaults(needs_db=False)  # the registry is the record; the database's copy is updated if it exists
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="stored versions: origin, key test metrics or the adaptation's gate figures")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_model_list)
    q = sub.add_parser("promote", help="make a version active (refused when its gate fails)")
    q.add_argument("version")
    q.add_argument("--tolerance", type=float, default=None)
    q.add_argument("--force", action="store_true", help="promote although the gate refuses it")
    q.set_defaults(func=cmd_model_promote)
    q = sub.add_parser("rollback", help="re-activate the previously promoted version")
    q.set_defaults(func=cmd_model_rollback)


def _registry(args: argparse.Namespace):
    from classifiers.registry import Registry, default_root

    return Registry(getattr(args, "registry", None) or default_root())


def _syncs_models(handler):
    """After a command that changes the registry, mirror it into the database's `models` table. Without a
    database (a research machine, or none made yet) nothing is created: the registry is the record, and
    `monitor init` and `monitor run` mirror it when they open the database."""

    def wrapped(args: argparse.Namespace) -> int:
        code = handler(args)
        import db

        if not db.is_url(args.db) and not Path(args.db).exists():
            return code
        from monitor.scoring import sync_models_table

        database = db.connect(args.db)
        try:
            sync_models_table(database, getattr(args, "registry", None))
        finally:
            database.conn.close()
        return code

    wrapped.__doc__ = handler.__doc__
    return wrapped


@_syncs_models
def cmd_train(args: argparse.Namespace) -> int:
    """Adapt to the database's decisions (--from-db) or retrain on the research data; gate; promote."""
    if args.from_db:
        if args.extra or args.out:
            print("error: --from-db adapts the model in use and stores it in the registry; "
                  "--extra and --out belong to the research retrain", file=sys.stderr)
            return 2
        return _adapt_from_db(args)
    from classifiers.registry import propose
    from classifiers.train import print_progress, read_examples, train_and_save, train_from_examples

    _require_training_data()
    if args.extra and not Path(args.extra).is_file():
        raise CliError(f"--extra {args.extra}: no such file (decision examples, one {{text, category, label}} "
                       "JSON object per line)")
    examples = read_examples(args.extra) if args.extra else []
    kwargs = {"rescore": not args.first_stage_only}
    if args.target_precision is not None:
        kwargs["target_precision"] = args.target_precision
    print(f"training with {len(examples)} decision example(s)", file=sys.stderr)
    if args.out:
        state = train_and_save(Path(args.out), print_progress, examples, **kwargs)
        print(f"wrote {args.out} (version {state['version']}, thresholds {state['thresholds']})")
        return 0
    reg = _registry(args)
    candidate = train_from_examples(examples, print_progress, registry_root=reg.root, **kwargs)
    print(f"stored version {candidate['version']} in {reg.root} (gated on dev)")
    return 0 if args.no_promote else _report_verdict(propose(candidate, _tolerance(args)))


def _require_training_data() -> None:
    """A retrain reads every dataset's train and dev splits; name the folder and what is missing, and
    point at `--from-db`, which needs none of it, instead of a FileNotFoundError from the first file."""
    from classifiers.data import DATASETS, data_dir

    root = data_dir()
    missing = [f"{spec.name}/{split}.jsonl" for spec in DATASETS for split in ("train", "dev")
               if not (root / spec.name / f"{split}.jsonl").is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise CliError(f"monitor train needs the research data's train and dev splits in {root} (set "
                       f"MONITOR_DATA_DIR to where they are); missing: {shown}. Without them, "
                       "`monitor train --from-db` adapts the model to this installation's decisions")


def _tolerance(args: argparse.Namespace) -> float:
    from classifiers.registry import DEFAULT_TOLERANCE

    return args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE


def _adapt_from_db(args: argparse.Namespace) -> int:
    """`train --from-db`: one line and exit 0 while decisions are too few (nothing is wrong)."""
    import db
    from classifiers.registry import FlagBand, adapt_candidate, propose
    from monitor.schedule.retrain import collect_examples, recent_items

    require_database(args.db)
    database = db.connect(args.db)
    try:
        decisions = collect_examples(database)
        recent, days = recent_items(database)
    finally:
        database.conn.close()
    defaults = FlagBand()
    band = FlagBand(ratio=args.flag_ratio or defaults.ratio,
                    rise=defaults.rise if args.flag_rise is None else args.flag_rise)
    candidate = adapt_candidate(decisions, recent=recent, days=days, registry_root=_registry(args).root, band=band)
    if candidate.get("waiting"):
        print(candidate["reason"])
        return 0
    gate = candidate["gate"]
    print(f"stored version {candidate['version']}: adaptation of {gate['base_version']} "
          f"with {gate['n_decisions']} decisions")
    for cat, rec in gate["categories"].items():
        rates = gate["flag_rates"][cat]
        print(f"  {cat}: {rec['chosen']}; log-loss on the {rec['n_heldout']} most recent decisions "
              f"{rec['candidate']['log_loss']:.3f} (in use {rec['active']['log_loss']:.3f}); "
              f"flags {rates['candidate']:.1%} of {rates['recent_items']} recent items (in use {rates['active']:.1%})")
    return 0 if args.no_promote else _report_verdict(propose(candidate))


def _report_verdict(verdict: dict) -> int:
    """Print the gate's verdict: 0 when promoted, 1 when refused (with its reasons)."""
    if verdict["promoted"]:
        print(f"promoted {verdict['version']}")
        return 0
    print(f"NOT promoted {verdict['version']}:")
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
        print(f"{'*' if r['active'] else ' '} {r['version']}  {r['created']}  {_describe(r)}")
    if reg.active is None:
        print("(active: shipped default model)")
    return 0


def _describe(row: dict) -> str:
    """One version's origin and gate figures, as `model list` prints them."""
    gate = row.get("gate") or {}
    if row.get("adapted_from"):
        losses = ", ".join(f"{c} {a}->{b}" for c, (a, b) in gate.get("heldout_log_loss", {}).items())
        rates = ", ".join(f"{c} {a:.1%}->{b:.1%}" for c, (a, b) in gate.get("flag_rate", {}).items())
        return (f"adaptation of {row['adapted_from']} with {row['n_decisions']} decisions; held-out log-loss {losses};"
                f" flag rate {rates}; gate {'passed' if gate.get('passed') else 'refused'}")
    key = {k: round(v, 3) for k, v in row["metrics"].items() if k.split("/")[0] in
           ("vi_reintel2020", "vi_vihsd", "vi_victsd_toxicity") and k.endswith(("roc_auc", "macro_f1"))}
    passed = "" if not gate else f"  dev gate {'passed' if gate.get('passed') else 'refused'}"
    return f"extra={row['n_extra']}  {key}{passed}"


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
        print(f"  {'despite' if promoted else 'refused'}: {reason}")
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
