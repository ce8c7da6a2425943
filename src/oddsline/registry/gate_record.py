"""What a recorded gate result says about a version, and whether it still allows a promotion.

A pass is a comparison with one champion: it says nothing about a champion promoted since, so the
record names the champion version it beat and a promotion is refused once the alias has moved on.
The record is the latest "gate" entry of the audit log (detail ``{"passed", "champion_version",
"champion", "report"}``), not a new column, so registries written by older oddsline open unchanged;
their entries, which lack ``champion_version``, read as a comparison with an unrecorded champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NEVER_VALIDATED", "GateRecord", "promotion_refusal"]

NEVER_VALIDATED = "never validated"


@dataclass(frozen=True)
class GateRecord:
    passed: bool
    champion_version: int | None  # the registered champion it was compared with; None: none was
    champion: str  # what it was compared with, for people: "v3", "no champion", "old.odl", ...

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> GateRecord:
        if "champion_version" not in detail:
            return cls(bool(detail.get("passed")), None, "an unrecorded champion (gate of an older oddsline)")
        version = detail["champion_version"]
        described = detail.get("champion") or (f"v{version}" if version is not None else "no champion")
        return cls(bool(detail["passed"]), None if version is None else int(version), str(described))

    def describe(self) -> str:
        """``passed vs v3``, ``passed vs no champion``, ``failed vs v3``: one cell of ``registry list``."""
        return f"{'passed' if self.passed else 'failed'} vs {self.champion}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "champion_version": self.champion_version, "champion": self.champion}


def promotion_refusal(
    name: str, version: int, alias: str, record: GateRecord | None, current: int | None
) -> str | None:
    """Why ``version`` may not replace ``current`` as ``name@alias`` without ``force``; None if it may.

    It may when its latest gate passed against the version the alias points at now (or against no
    champion while the alias is unset), or when the alias already points at it (nothing is replaced).
    """
    against = f" --champion {name}@{alias}" if current is not None else ""  # a first model: no champion yet
    fix = (
        f"re-run `oddsline validate --challenger {name}@{version}{against} --data HOLDOUT`, "
        "or promote with --force (audited)"
    )
    if record is None or not record.passed:
        why = NEVER_VALIDATED if record is None else f"its last validation failed against {record.champion}"
        return f"{name} version {version} has not passed the gate ({why}); {fix}"
    if current == record.champion_version or current == version:
        return None
    now = f"version {current}" if current is not None else "not set"
    return (
        f"{name} version {version} passed the gate against {record.champion}, but {name}@{alias} is now {now}: "
        f"the pass is stale; {fix}"
    )
