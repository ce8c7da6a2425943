"""oddsline: production logistic regression, from a labelled table to a model people can trust and run.

The public API is listed in ``__all__``; everything else is internal.
"""

from . import metrics
from ._exceptions import (
    ArtifactError,
    ConvergenceWarning,
    DataError,
    FormatVersionError,
    InferenceError,
    InputTypeError,
    IntegrityError,
    NotAnArtifactError,
    NotFittedError,
    OddslineError,
    ParameterError,
    ReadError,
    RegistryBusyError,
    RegistryError,
    SchemaError,
    SeparationError,
    SignatureError,
    TargetError,
)
from ._version import __version__
from .artifact import load
from .estimator import LogisticRegression
from .features import FeatureSpec, FittedFeatures
from .inference import InferenceResult, LRTestResult, inference, lr_test, wald_test
from .io import read_table
from .model import Model
from .multiclass_model import MulticlassModel
from .multiclass_training import train_multiclass
from .registry import Registry
from .regularization import LogisticRegressionCV, RegularizationPath, regularization_path
from .training import train

__all__ = [
    "ArtifactError",
    "ConvergenceWarning",
    "DataError",
    "FeatureSpec",
    "FittedFeatures",
    "FormatVersionError",
    "InferenceError",
    "InferenceResult",
    "InputTypeError",
    "IntegrityError",
    "LRTestResult",
    "LogisticRegression",
    "LogisticRegressionCV",
    "Model",
    "MulticlassModel",
    "NotAnArtifactError",
    "NotFittedError",
    "OddslineError",
    "ParameterError",
    "ReadError",
    "Registry",
    "RegistryBusyError",
    "RegistryError",
    "RegularizationPath",
    "SchemaError",
    "SeparationError",
    "SignatureError",
    "TargetError",
    "__version__",
    "inference",
    "load",
    "lr_test",
    "metrics",
    "read_table",
    "regularization_path",
    "train",
    "train_multiclass",
    "wald_test",
]
