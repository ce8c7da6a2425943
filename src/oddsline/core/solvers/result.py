"""What every solver returns: the iterate plus the diagnostics it recorded on the way."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass
class SolverResult:
    theta: NDArray[np.float64]
    converged: bool
    n_iter: int
    objective: float
    grad_norm: float
    solver: str
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add_time(self, phase: str, seconds: float) -> None:
        self.timings[phase] = self.timings.get(phase, 0.0) + seconds
