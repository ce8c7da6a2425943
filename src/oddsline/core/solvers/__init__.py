"""Solvers: plain functions of (problem, starting point) that return a :class:`SolverResult`."""

from .newton import fit_newton
from .result import SolverResult

__all__ = ["SolverResult", "fit_newton"]
