"""Solvers: plain functions of (problem, starting point) that return a :class:`SolverResult`."""

from .cd import fit_cd, kkt_violation
from .lbfgs import fit_lbfgs
from .newton import fit_newton
from .result import SolverResult

__all__ = ["SolverResult", "fit_cd", "fit_lbfgs", "fit_newton", "kkt_violation"]
