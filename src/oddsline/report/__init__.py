"""The HTML model card: one self-contained, offline file (plots inline as SVG, no external URL)."""

from .card import write_report

__all__ = ["write_report"]
