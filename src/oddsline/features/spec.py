"""FeatureSpec: which source columns feed the model and how each is encoded — declared in YAML, JSON
or Python, or inferred from a table with the reasons printed beside each choice.

A spec holds no data. ``fit`` learns medians, scales, vocabularies and encodings from the training
rows only, so nothing of a held-out split leaks in; ``fit_transform`` also returns the training design
matrix, in which target-encoded columns are cross-fitted (a row never sees its own label).

    columns:
      - {name: tenure, kind: numeric, clip: [0.01, 0.99]}
      - {name: contract, kind: categorical, min_frequency: 20}
      - {name: zip, kind: target, smoothing: 20}
      - {kind: interaction, columns: [tenure, monthly_charges]}
    strict: false
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .boolean import BOOLEAN_DEFAULTS, fit_boolean
from .categorical import CATEGORICAL_DEFAULTS, fit_categorical
from .datetime_parts import DATETIME_DEFAULTS, fit_datetime
from .fitted import FittedColumn, FittedFeatures
from .hashing import HASHED_DEFAULTS, FittedHashed
from .infer import choose_encoding
from .interaction import INTERACTION_DEFAULTS, fit_interaction
from .numeric import NUMERIC_DEFAULTS, PASSTHROUGH_OPTIONS, fit_numeric
from .report import TransformReport
from .target_encoding import TARGET_DEFAULTS, fit_target_encoding

__all__ = ["KINDS", "ColumnSpec", "FeatureSpec"]

KINDS: dict[str, dict[str, Any]] = {
    "numeric": NUMERIC_DEFAULTS,
    "passthrough": {},  # the number as it is: no scaling or clipping (missing values still imputed and counted)
    "categorical": CATEGORICAL_DEFAULTS,
    "boolean": BOOLEAN_DEFAULTS,
    "datetime": DATETIME_DEFAULTS,
    "target": TARGET_DEFAULTS,
    "hashed": HASHED_DEFAULTS,
    "interaction": INTERACTION_DEFAULTS,
}
_CHOICES = {
    "impute": ("median", "mean", "constant"),
    "scale": ("standard", "robust", "none"),
    "out_of_range": ("count", "clip", "error"),
    "unseen": ("bucket", "error"),
}


@dataclass(frozen=True)
class ColumnSpec:
    """One source column (or, for ``interaction``, a pair) and its encoding options."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""  # why ``infer`` chose this kind; printed as a comment

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError(f"column {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        allowed = KINDS[self.kind]
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            raise SchemaError(
                f"column {self.name!r} ({self.kind}): unknown option(s) {unknown}; "
                f"the options of {self.kind} are {sorted(allowed) or 'none'}"
            )
        for key, value in self.options.items():
            if key in _CHOICES and value not in _CHOICES[key]:
                raise SchemaError(f"column {self.name!r}: {key} must be one of {list(_CHOICES[key])}, got {value!r}")

    @property
    def settings(self) -> dict[str, Any]:
        """The options with the kind's defaults filled in."""
        return {**KINDS[self.kind], **self.options}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = (
            {"name": self.name, "kind": self.kind} if self.kind != "interaction" else {"kind": self.kind}
        )
        return body | dict(self.options)


@dataclass(frozen=True)
class FeatureSpec:
    columns: tuple[ColumnSpec, ...]
    strict: bool = False
    # (column, reason) for each column ``infer`` left out; carried so that training can report them.
    ignored: tuple[tuple[str, str], ...] = ()

    # -- declaring --------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
            raise SchemaError("a feature spec is a mapping with a list under 'columns'")
        columns = []
        for i, entry in enumerate(data["columns"]):
            if not isinstance(entry, Mapping) or "kind" not in entry:
                raise SchemaError(
                    f"spec column #{i + 1} must be a mapping with at least 'kind' (and 'name'), got {entry!r}"
                )
            options = {k: v for k, v in entry.items() if k not in ("name", "kind")}
            if entry["kind"] == "interaction":
                pair = options.get("columns")
                name = "*".join(map(str, pair)) if isinstance(pair, list) else "interaction"
            elif "name" not in entry:
                raise SchemaError(f"spec column #{i + 1} ({entry['kind']}) has no 'name'")
            else:
                name = str(entry["name"])
            columns.append(ColumnSpec(name, str(entry["kind"]), options))
        unknown = sorted(set(data) - {"columns", "strict", "ignored"})
        if unknown:
            raise SchemaError(
                f"unknown spec key(s) {unknown}; a spec has 'columns' and optionally 'strict' and 'ignored'"
            )
        ignored = data.get("ignored") or []
        if not isinstance(ignored, list) or not all(isinstance(e, Mapping) and "name" in e for e in ignored):
            raise SchemaError("'ignored' in a spec is a list of {name: COLUMN, reason: TEXT} mappings")
        left_out = tuple((str(e["name"]), str(e.get("reason", ""))) for e in ignored)
        return cls(tuple(columns), bool(data.get("strict", False)), left_out)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"columns": [c.to_dict() for c in self.columns], "strict": self.strict}
        if self.ignored:
            body["ignored"] = [{"name": name, "reason": reason} for name, reason in self.ignored]
        return body

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        """Read a spec from a .yaml/.yml or .json file."""
        p = Path(path)
        if not p.is_file():
            raise SchemaError(f"{p}: no such spec file")
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # the parsers' own errors carry line and column
            raise SchemaError(f"{p} is not a valid spec file: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        """YAML text, with each inferred column's reason as a comment, ready to edit."""
        lines = ["# oddsline feature spec: edit kinds and options, then `oddsline train --spec this.yaml`", "columns:"]
        for c in self.columns:
            body = json.dumps(c.to_dict(), ensure_ascii=False)
            lines.append(f"  - {body}" + (f"  # {c.reason}" if c.reason else ""))
        lines.append(
            f"strict: {'true' if self.strict else 'false'}  # true: refuse input columns the model does not use"
        )
        if self.ignored:
            lines.append("ignored:  # left out of the model; move one into columns to use it")
            lines.extend(
                f"  - {json.dumps({'name': name, 'reason': reason}, ensure_ascii=False)}"
                for name, reason in self.ignored
            )
        return "\n".join(lines) + "\n"

    # -- inferring ----------------------------------------------------------------------------------

    @classmethod
    def infer(cls, table: pa.Table, *, target: str | None = None, ignore: Iterable[str] = ()) -> FeatureSpec:
        """Numbers -> numeric, two-valued -> boolean, text -> categorical (<= 50 levels) or target-encoded,
        timestamps (typed or ISO-8601 text) -> datetime. Empty, constant and identifier columns are left
        out and listed in ``ignored`` with the reason (see ``features/infer.py``); so are ``ignore``."""
        skip = set(ignore) | ({target} if target else set())
        unknown = sorted(skip - set(table.column_names) - ({target} if target else set()))
        if unknown:
            raise SchemaError(
                f"cannot ignore {', '.join(map(repr, unknown))}: no such column; columns are {table.column_names}"
            )
        columns, ignored = [], []
        metadata = table.schema.pandas_metadata or {}
        pandas_index = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
        for name in table.column_names:
            if name == target:
                continue
            if name in skip:
                ignored.append((name, "ignored as asked"))
                continue
            choice = choose_encoding(name, table.column(name), pandas_index=name in pandas_index)
            if choice.kind is None:
                ignored.append((name, choice.reason))
            else:
                columns.append(ColumnSpec(name, choice.kind, reason=choice.reason))
        if not columns:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in ignored) or "none"
            raise SchemaError(
                "no feature columns are left after removing the target and the columns left out "
                f"({reasons}); declare the columns in a spec (--spec) or give a table with usable columns"
            )
        return cls(tuple(columns), ignored=tuple(ignored))

    # -- fitting ------------------------------------------------------------------------------------

    def fit(self, table: pa.Table, y: NDArray[np.float64] | None = None) -> FittedFeatures:
        return self.fit_transform(table, y)[0]

    def fit_transform(
        self, table: pa.Table, y: NDArray[np.float64] | None = None
    ) -> tuple[FittedFeatures, NDArray[np.float64]]:
        """(the fitted features, the training design matrix). Target-encoded columns need ``y`` (0/1)
        and are cross-fitted in the returned matrix."""
        sources = {s for c in self.columns for s in _sources(c)}
        missing = sorted(sources - set(table.column_names))
        if missing:
            raise SchemaError(f"the training table lacks column(s) {', '.join(map(repr, missing))} named in the spec")
        kinds = {c.name: c.kind for c in self.columns}
        fitted: list[FittedColumn] = []
        out_of_fold: dict[int, NDArray[np.float64]] = {}
        for c in self.columns:
            options = c.settings
            data = table.column(c.name) if c.kind != "interaction" else None
            if c.kind == "numeric":
                fitted.append(fit_numeric(c.name, data, options))
            elif c.kind == "passthrough":
                fitted.append(fit_numeric(c.name, data, PASSTHROUGH_OPTIONS))
            elif c.kind == "categorical":
                fitted.append(fit_categorical(c.name, data, options))
            elif c.kind == "boolean":
                fitted.append(fit_boolean(c.name, data, options))
            elif c.kind == "datetime":
                fitted.append(fit_datetime(c.name, data, options))
            elif c.kind == "hashed":
                fitted.append(FittedHashed(c.name, int(options["bits"])))
            elif c.kind == "target":
                if y is None:
                    raise SchemaError(f"column {c.name!r} is target-encoded: fitting it needs the labels (y)")
                encoder, values = fit_target_encoding(c.name, data, np.asarray(y, dtype=np.float64), options)
                out_of_fold[len(fitted)] = values
                fitted.append(encoder)
            else:
                fitted.append(fit_interaction(table, options, kinds))
        features = FittedFeatures(tuple(fitted), self.strict)
        X = features.transform(table.select(features.source_columns), TransformReport())
        for position, values in out_of_fold.items():
            X[:, features.blocks()[position][1]] = values[:, None]
        return features, X


def _sources(c: ColumnSpec) -> list[str]:
    return [str(s) for s in c.options.get("columns", [])] if c.kind == "interaction" else [c.name]
