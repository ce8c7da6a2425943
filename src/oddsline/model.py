"""``oddsline.model``: the binary kind, kept at its old import path (it lives in ``models/binary.py``)."""

from .models.binary import Explanation, Model, OneRow

__all__ = ["Explanation", "Model", "OneRow"]
