"""Monitoring: reference statistics captured at training, drift tests sized to the sample."""

from .drift import DriftThresholds, drift_report
from .reference import capture_reference

__all__ = ["DriftThresholds", "capture_reference", "drift_report"]
