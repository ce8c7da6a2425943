"""From raw columns to the design matrix: a declarative spec, fitted into numbers and vocabularies only."""

from .fitted import FittedCategorical, FittedFeatures, FittedNumeric
from .spec import ColumnSpec, FeatureSpec

__all__ = ["ColumnSpec", "FeatureSpec", "FittedCategorical", "FittedFeatures", "FittedNumeric"]
