"""``oddsline.retrain``: the champion's recipe on new data, a challenger in the registry, the gate, and
promotion only on pass — one call a scheduler can make."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._exceptions import RegistryError
from .features import FeatureSpec
from .io import TableLike, to_arrow
from .models import Model
from .registry import Registry
from .registry.gate import GateLimits, run_gate
from .splits import stratified_split
from .training import train

__all__ = ["retrain"]


def retrain(
    registry: Registry,
    name: str,
    data: TableLike,
    *,
    gate_size: float = 0.2,
    seed: int = 0,
    limits: GateLimits | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """Retrain ``name@champion`` on ``data`` and promote the result if it passes the gate.

    A seeded, stratified ``gate_size`` share of ``data`` is kept out of training; the challenger is fitted
    on the rest with the champion's feature spec, target, C (or its cross-validated selection),
    calibration, threshold rule, class weights and split; it is registered with alias ``challenger``;
    challenger and champion are then scored on the kept-out rows by the gate, whose report is recorded
    on the version with the champion version it was compared with; on pass, ``champion`` moves to it
    (refused if another promotion moved ``champion`` meanwhile: the pass would be stale). Returns what
    happened.
    """
    # Loaded by number, so the gate record names the champion actually compared even if the alias moves.
    champion_version = registry.resolve(f"{name}@champion")[1]
    champion = registry.load(f"{name}@{champion_version}")
    if not isinstance(champion, Model):
        raise RegistryError(
            f"{name}@champion (version {champion_version}) is a {champion.kind} model; retrain and its gate "
            "compare binary models: train the new version (oddsline train ... --multiclass) and register it"
        )
    table = to_arrow(data)
    y = champion.target.encode(table)
    fit_idx, gate_idx = stratified_split(y, gate_size, seed)
    if len(gate_idx) == 0 or len(set(y[gate_idx].tolist())) < 2:
        raise RegistryError(f"gate_size={gate_size} leaves no rows of both classes for the gate; add data or raise it")
    params = champion.params
    spec = FeatureSpec.from_dict(params["spec"]) if params.get("spec") else None
    threshold: str | float = params.get("threshold_rule") or champion.threshold
    C = params.get("C", 1.0)
    challenger = train(
        table.take(pa.array(fit_idx)),
        target=champion.target.name,
        positive=champion.target.positive,
        C=math.inf if C == "inf" else float(C),
        l1_ratio=float(params.get("l1_ratio", 0.0)),
        test_size=float(params.get("test_size", 0.2)),
        seed=int(params.get("seed", 0)),
        spec=spec,
        calibrate=params.get("calibrate"),
        threshold=threshold,
        class_weight=params.get("class_weight"),
        folds=int(params.get("folds", 5)),
        split=params.get("split", "random"),
        time_column=params.get("time_column"),
        group_column=params.get("group_column"),
        cv=params.get("cv"),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = challenger.save(Path(tmp) / f"{name}.odl")
        version = registry.register(name, path, reason=reason or f"retrained on {table.num_rows} new rows")
    registry.set_alias(name, "challenger", version, reason="retrain")
    report = run_gate(challenger, champion, table.take(pa.array(gate_idx)), limits)
    registry.record_gate(name, version, report["passed"], report, champion_version=champion_version)
    if report["passed"]:
        registry.promote(name, version, reason="retrain: gate passed")
    return {
        "name": name,
        "challenger": version,
        "previous_champion": champion_version,
        "promoted": report["passed"],
        "spec_reused": spec is not None,
        "gate_rows": len(gate_idx),
        "gate": report,
    }
