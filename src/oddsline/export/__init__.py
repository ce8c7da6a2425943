"""Exports of a trained model to other runtimes."""

from .onnx_export import export_onnx

__all__ = ["export_onnx"]
