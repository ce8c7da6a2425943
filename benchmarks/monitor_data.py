"""The synthetic monitoring tables, shared by monitor.py and the Evidently peer (same seeds, same rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def table(n: int, shift: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = {f"x{j}": rng.normal(loc=shift if j < 10 else 0.0, size=n) for j in range(90)}
    columns |= {f"c{j}": rng.choice([f"level{k}" for k in range(12)], size=n) for j in range(10)}
    logit = sum(columns[f"x{j}"] for j in range(5)) * 0.3
    columns["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pa.table(columns)
