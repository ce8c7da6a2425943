"""``oddsline registry ...``, ``oddsline keys generate``, ``oddsline sign`` and ``oddsline validate``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ..registry import Registry
from ..registry.gate import GateLimits, run_gate
from ..registry.gate_record import NEVER_VALIDATED, GateRecord, promotion_refusal
from .output import print_json
from .references import load_model

Subparsers = Any


def _registry(args: argparse.Namespace) -> Registry:
    return Registry(
        args.url, home=args.home, require_signatures=args.require_signatures, trusted_keys=args.trust_key or ()
    )


def _print(value: Any, as_json: bool, text: str) -> None:
    if as_json:
        print_json(value)
    else:
        print(text)


_EXAMPLES = {
    "register": "churn model.odl --reason 'retrained on March data'",
    "list": "churn",
    "show": "churn@champion",
    "alias": "churn challenger 4",
    "promote": "churn 4",
    "rollback": "churn",
    "archive": "churn 2 --reason superseded",
    "audit": "churn --json",
    "lineage": "churn@3",
    "diff": "churn 3 4",
}


def add_registry(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "registry",
        help="versions, aliases (champion/challenger), audit and lineage of named models",
        description="The model registry: SQLite in $ODDSLINE_HOME (default ./.oddsline), or a database URL "
        "(--url postgresql+psycopg://...). Versions are immutable; aliases move atomically; every change is "
        "audited. A reference NAME@ALIAS or NAME@VERSION works wherever a MODEL is accepted.",
        epilog="Example: oddsline registry register churn model.odl && oddsline registry promote churn 1 --force",
    )
    p.add_argument("--home", help="registry folder (default $ODDSLINE_HOME or ./.oddsline)")
    p.add_argument("--url", help="database URL (default: SQLite in the registry folder)")
    p.add_argument("--require-signatures", action="store_true", help="refuse model files not signed by a trusted key")
    p.add_argument("--trust-key", action="append", metavar="PUB", help="a trusted public key file (repeatable)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True

    def action(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}. The registry is the one of `oddsline registry` "
            "(--home, --url go before the action). Every change is written to the audit log.",
            epilog=f"Example: oddsline registry {name} {_EXAMPLES[name]}",
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=run)
        return sub

    sub = action("register", "store MODEL_FILE as the next version of NAME (prints the version)", run_register)
    sub.add_argument("name")
    sub.add_argument("model_file")
    sub.add_argument("--reason", default="")
    sub = action("list", "the versions of NAME, their status, aliases and gate result", run_list)
    sub.add_argument("name", help="the model's name, e.g. churn")
    sub = action("show", "one version: REF is NAME, NAME@VERSION or NAME@ALIAS", run_show)
    sub.add_argument("reference", help="NAME (the latest version), NAME@VERSION or NAME@ALIAS")
    sub = action("alias", "point NAME@ALIAS at VERSION", run_alias)
    sub.add_argument("name")
    sub.add_argument("alias")
    sub.add_argument("version", type=int)
    sub.add_argument("--reason", default="")
    sub = action(
        "promote",
        "make VERSION the champion (refused unless it passed `oddsline validate` against the current champion)",
        run_promote,
    )
    sub.add_argument("name")
    sub.add_argument("version", type=int)
    sub.add_argument("--alias", default="champion")
    sub.add_argument("--force", action="store_true", help="promote without a current passed gate (audited)")
    sub.add_argument("--reason", default="")
    sub = action("rollback", "move an alias back to its previous version", run_rollback)
    sub.add_argument("name")
    sub.add_argument("--alias", default="champion")
    sub.add_argument("--reason", default="")
    sub = action("archive", "retire a version (no alias may point at it)", run_archive)
    sub.add_argument("name")
    sub.add_argument("version", type=int)
    sub.add_argument("--reason", default="")
    sub = action("audit", "the audit log (of NAME, or of everything): who did what, when and why", run_audit)
    sub.add_argument("name", nargs="?", help="only this model's entries")
    sub = action("lineage", "training data fingerprint, parameters and signer of a version", run_lineage)
    sub.add_argument("reference", help="NAME@VERSION or NAME@ALIAS")
    sub = action("diff", "held-out metrics of two versions side by side", run_diff)
    sub.add_argument("name", help="the model's name")
    sub.add_argument("a", type=int, help="one version number")
    sub.add_argument("b", type=int, help="the other version number")


def run_register(args: argparse.Namespace) -> int:
    version = _registry(args).register(args.name, args.model_file, reason=args.reason)
    _print({"name": args.name, "version": version}, args.json, str(version))
    return 0


def run_list(args: argparse.Namespace) -> int:
    rows = _registry(args).versions(args.name)
    champion = next((r["version"] for r in rows if "champion" in r["aliases"]), None)
    gates = [_gate_cell(r, champion) for r in rows]
    width = max([len("gate"), *map(len, gates)])
    lines = [f"{'version':>7}  {'status':<8}  {'gate':<{width}}  {'aliases':<20}  created"]
    for r, gate in zip(rows, gates, strict=True):
        lines.append(
            f"{r['version']:>7}  {r['status']:<8}  {gate:<{width}}  "
            f"{','.join(r['aliases']) or '-':<20}  {r['created_at']} by {r['created_by']}"
        )
    _print(rows, args.json, "\n".join(lines) if rows else f"no versions of {args.name!r}")
    return 0


def _gate_cell(row: dict[str, Any], champion: int | None) -> str:
    """``never validated``, ``failed vs v3``, ``passed vs v3``, with ``(stale)`` when a pass no longer
    allows promotion because the champion has moved (the rule of ``Registry.promote``)."""
    if row["gate"] is None:
        return NEVER_VALIDATED
    record = GateRecord(**row["gate"])
    stale = record.passed and promotion_refusal(row["name"], row["version"], "champion", record, champion)
    return record.describe() + (" (stale)" if stale else "")


def run_show(args: argparse.Namespace) -> int:
    row = _registry(args).show(args.reference)
    _print(row, args.json, json.dumps(row, indent=2, default=str))
    return 0


def run_alias(args: argparse.Namespace) -> int:
    _registry(args).set_alias(args.name, args.alias, args.version, reason=args.reason)
    _print(
        {"name": args.name, "alias": args.alias, "version": args.version},
        args.json,
        f"{args.name}@{args.alias} -> {args.version}",
    )
    return 0


def run_promote(args: argparse.Namespace) -> int:
    _registry(args).promote(args.name, args.version, alias=args.alias, force=args.force, reason=args.reason)
    _print(
        {"name": args.name, "alias": args.alias, "version": args.version},
        args.json,
        f"{args.name}@{args.alias} -> {args.version}",
    )
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    version = _registry(args).rollback(args.name, args.alias, reason=args.reason)
    _print(
        {"name": args.name, "alias": args.alias, "version": version},
        args.json,
        f"{args.name}@{args.alias} -> {version}",
    )
    return 0


def run_archive(args: argparse.Namespace) -> int:
    _registry(args).archive(args.name, args.version, reason=args.reason)
    _print(
        {"name": args.name, "version": args.version, "status": "archived"},
        args.json,
        f"{args.name} {args.version} archived",
    )
    return 0


def run_audit(args: argparse.Namespace) -> int:
    rows = _registry(args).audit_log(args.name)
    text = "\n".join(
        f"{r['at']}  {r['actor']:<12} {r['action']:<10} {r['name']} {r['version']}  {r['reason']}" for r in rows
    )
    _print(rows, args.json, text or "no entries")
    return 0


def run_lineage(args: argparse.Namespace) -> int:
    lineage = _registry(args).lineage(args.reference)
    _print(lineage, args.json, json.dumps(lineage, indent=2, default=str))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    diff = _registry(args).diff(args.name, args.a, args.b)
    lines = [f"{'metric':<18} {args.a:>10} {args.b:>10} {'delta':>10}"]
    for key, row in diff.items():
        cells = [
            f"{v:>10.4f}" if isinstance(v, (int, float)) else f"{'-':>10}" for v in (row["a"], row["b"], row["delta"])
        ]
        lines.append(f"{key:<18} " + " ".join(cells))
    _print(diff, args.json, "\n".join(lines))
    return 0


# -- keys, sign, validate ---------------------------------------------------------------------------


def add_keys(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "keys",
        help="generate an Ed25519 signing key pair",
        description="Model files can be signed (oddsline sign, oddsline train --sign-key) and a registry or "
        "server told to accept only files signed by trusted keys (--require-signatures --trust-key).",
        epilog="Example: oddsline keys generate team  # writes team.key (private, 0600) and team.pub",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    sub = actions.add_parser(
        "generate",
        help="write NAME.key and NAME.pub",
        description="Write a new Ed25519 key pair: NAME.key (private, created 0600: keep it secret; it signs model "
        "files) and NAME.pub (public: give it to the servers and registries that verify signatures). An existing "
        "file is not overwritten.",
        epilog="Example: oddsline keys generate release && oddsline sign model.odl --key release.key",
    )
    sub.add_argument("name", help="path stem of the two files, e.g. keys/release")
    sub.set_defaults(run=run_keys_generate)


def run_keys_generate(args: argparse.Namespace) -> int:
    from ..signing import generate_keys

    private, public = generate_keys(args.name)
    print(f"private key {private} (keep it secret), public key {public} (give it to verifiers)")
    return 0


def add_sign(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "sign",
        help="sign a model file with a private key",
        description="Add an Ed25519 signature over the model's manifest (which holds every member's SHA-256).",
        epilog="Example: oddsline sign model.odl --key team.key",
    )
    p.add_argument("model", metavar="MODEL_FILE")
    p.add_argument("--key", required=True, metavar="KEY", help="private key file (from oddsline keys generate)")
    p.set_defaults(run=run_sign)


def run_sign(args: argparse.Namespace) -> int:
    from ..signing import sign_file

    print(f"{args.model} signed by key {sign_file(args.model, args.key)}")
    return 0


def add_validate(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "validate",
        help="CI gate: does the challenger beat (or match) the champion on held-out data? exit 0 pass, 1 fail",
        description="Score CHALLENGER and CHAMPION on DATA and compare. Fails (exit 1) if the challenger's log loss "
        "rises more than --max-logloss-increase, its ROC AUC falls more than -(--min-auc-delta), or its ECE "
        "exceeds --max-ece. A CHALLENGER from the registry gets the result recorded with the champion version it was "
        "compared with; `registry promote` requires a pass against the version that is champion at that time.",
        epilog="Example: oddsline validate --challenger churn@challenger --champion churn@champion --data holdout.csv",
    )
    p.add_argument("--challenger", required=True, metavar="MODEL")
    p.add_argument("--champion", metavar="MODEL", help="omit for a first model: only the absolute limits apply")
    p.add_argument("--data", required=True, metavar="DATA", help="labelled held-out table")
    p.add_argument("--max-logloss-increase", type=float, default=0.0)
    p.add_argument("--min-auc-delta", type=float, default=-0.005)
    p.add_argument("--max-ece", type=float, default=0.05)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from ..io import read_table

    table = read_table(args.data)
    limits = GateLimits(args.max_logloss_increase, args.min_auc_delta, args.max_ece)
    if not _is_reference(args.challenger):
        report = run_gate(load_model(args.challenger), _champion(args.champion), table, limits)
        _print(report, args.json, _gate_table(report))
        return 0 if report["passed"] else 1
    with Registry() as registry:
        # Both references resolved once, and the models loaded by those numbers: the record then names
        # exactly the champion that was compared, even if an alias moves meanwhile.
        name, version = registry.resolve(args.challenger)
        champion_version, champion = None, args.champion
        if args.champion and _is_reference(args.champion):
            champion_name, number = registry.resolve(args.champion)
            champion = f"{champion_name}@{number}"
            champion_version = number if champion_name == name else None
        report = run_gate(load_model(f"{name}@{version}"), _champion(champion), table, limits)
        if champion_version is not None:
            champion = None  # described as "v3" from the version
        registry.record_gate(
            name, version, report["passed"], report, champion_version=champion_version, champion=champion
        )
    _print(report, args.json, _gate_table(report))
    return 0 if report["passed"] else 1


def _champion(reference: str | None) -> Any:
    return load_model(reference) if reference else None


def _is_reference(model: str) -> bool:
    """A registry reference, not a model file (the rule of ``load_model``)."""
    return not (Path(model).is_file() or model.endswith(".odl") or os.sep in model)


def _gate_table(report: dict[str, Any]) -> str:
    """The gate's checks, one row each (check, value, limit, ok), then PASS or FAIL."""
    lines = [f"{'check':<18} {'value':>10} {'limit':>10}  ok"]
    for c in report["checks"]:
        value = "undefined" if c["value"] is None else f"{c['value']:.4f}"
        reason = f"  ({c['reason']})" if c.get("reason") else ""
        lines.append(f"{c['check']:<18} {value:>10} {c['limit']:>10.4f}  {'ok' if c['ok'] else 'FAIL'}{reason}")
    lines.append("PASS" if report["passed"] else "FAIL")
    return "\n".join(lines)


def add_retrain(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "retrain",
        help="retrain NAME@champion on new data; register a challenger; promote only if it passes the gate",
        description="One command for a scheduler: the champion's spec and parameters are refitted on DATA (minus a "
        "seeded, stratified --gate-size share kept for the gate), the result is registered as NAME@challenger, "
        "challenger and champion are compared on the kept rows (the limits of `oddsline validate`), and "
        "NAME@champion moves to the challenger only if it passes. Exit 0: promoted; 1: the gate failed (the "
        "challenger stays registered).",
        epilog="Example: oddsline retrain --model churn --data last_quarter.parquet",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="registered model name (its champion is retrained)")
    p.add_argument("--data", required=True, metavar="DATA", help="new labelled rows")
    p.add_argument("--gate-size", type=float, default=0.2, help="share of DATA kept out for the gate (0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-logloss-increase", type=float, default=0.0)
    p.add_argument("--min-auc-delta", type=float, default=-0.005)
    p.add_argument("--max-ece", type=float, default=0.05)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_retrain)


def run_retrain(args: argparse.Namespace) -> int:
    from ..io import read_table
    from ..retrain import retrain

    limits = GateLimits(args.max_logloss_increase, args.min_auc_delta, args.max_ece)
    with Registry() as registry:
        outcome = retrain(
            registry, args.model, read_table(args.data), gate_size=args.gate_size, seed=args.seed, limits=limits
        )
    verdict = "promoted to champion" if outcome["promoted"] else "NOT promoted (gate failed); champion unchanged"
    summary = (
        f"{args.model} version {outcome['challenger']} registered as challenger, compared with champion version "
        f"{outcome['previous_champion']} on {outcome['gate_rows']} kept-out rows:"
    )
    _print(outcome, args.json, f"{summary}\n{_gate_table(outcome['gate'])}\n{verdict}")
    return 0 if outcome["promoted"] else 1
