"""From raw columns to the design matrix: a declarative spec, fitted into numbers and vocabularies only."""

from .categorical import FittedCategorical
from .fitted import FittedFeatures
from .numeric import FittedNumeric
from .report import TransformReport
from .spec import ColumnSpec, FeatureSpec

__all__ = ["ColumnSpec", "FeatureSpec", "FittedCategorical", "FittedFeatures", "FittedNumeric", "TransformReport"]
