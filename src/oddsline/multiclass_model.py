"""``oddsline.multiclass_model``: the multinomial kind, kept at its old import path (it lives in
``models/multiclass.py``)."""

from .models.multiclass import ClassExplanation, MulticlassModel

__all__ = ["ClassExplanation", "MulticlassModel"]
