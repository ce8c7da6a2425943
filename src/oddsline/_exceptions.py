"""The one exception tree of oddsline.

Every mistake a user can make raises a subclass of :class:`OddslineError` whose message names the
column, parameter or file at fault and says how to fix it. The CLI turns these into one line on
stderr and exit code 2; the HTTP layer maps them through one table to a status code.

::

    OddslineError
    ├── ParameterError        a parameter is out of range or of the wrong kind   (also ValueError)
    ├── DataError             the input table cannot be used as given            (also ValueError)
    │   ├── InputTypeError    values that are not numbers where numbers are needed (also TypeError)
    │   ├── TargetError       the target column is missing, has no usable labels, or --positive is wrong
    │   ├── SchemaError       a feature column is missing or of the wrong type
    │   └── SeparationError   the classes are (quasi-)separated: no maximum-likelihood estimate exists
    ├── InferenceError        the statistics asked for are not valid for this fit (L1 p-values, ...)
    ├── ReadError             a file could not be read as a table                 (also OSError)
    ├── ArtifactError         a model file is not a valid, intact .odl file
    │   ├── NotAnArtifactError    pickle, joblib or any other non-.odl file: refused, never executed
    │   ├── IntegrityError        truncated file or a member whose SHA-256 does not match the manifest
    │   ├── FormatVersionError    written by a format version this oddsline cannot read
    │   └── SignatureError        unsigned where a signature is required, or a signature that fails
    ├── RegistryError         unknown model, version or alias; a bad name; a refused promotion
    │   └── RegistryBusyError     the registry's database stayed locked past its busy timeout: retry
    └── NotFittedError        an estimator was used before ``fit``            (also ValueError, AttributeError)

    ConvergenceWarning        a solver stopped before its tolerance was met   (a UserWarning)
    LeakageWarning            a column looks like it records the outcome     (a UserWarning)
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConvergenceWarning",
    "DataError",
    "FormatVersionError",
    "InferenceError",
    "InputTypeError",
    "IntegrityError",
    "LeakageWarning",
    "NotAnArtifactError",
    "NotFittedError",
    "OddslineError",
    "ParameterError",
    "ReadError",
    "RegistryBusyError",
    "RegistryError",
    "SchemaError",
    "SeparationError",
    "SignatureError",
    "TargetError",
]


class OddslineError(Exception):
    """Base class of every error oddsline raises on purpose."""


class ParameterError(OddslineError, ValueError):
    """A parameter is out of range or of the wrong kind."""


class DataError(OddslineError, ValueError):
    """The input table cannot be used as given."""


class InputTypeError(DataError, TypeError):
    """Values that are not numbers where numbers are needed."""


class TargetError(DataError):
    """The target column is missing, has no usable labels, or the positive label is wrong."""


class SchemaError(DataError):
    """A feature column is missing or has a type the fitted features cannot use."""


class SeparationError(DataError):
    """The classes are (quasi-)completely separated, so the unpenalised estimate does not exist.

    ``columns`` holds the indices of the design columns in the separating direction.
    """

    def __init__(self, message: str, columns: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.columns = columns


class InferenceError(OddslineError, ValueError):
    """The requested statistics are not valid for this fit (for example naive p-values after L1)."""


class ReadError(OddslineError, OSError):
    """A file could not be read as a table."""


class ArtifactError(OddslineError):
    """A model file is not a valid, intact .odl file."""


class NotAnArtifactError(ArtifactError):
    """The file is not an .odl file (for example a pickle); it was not executed."""


class IntegrityError(ArtifactError):
    """The file is truncated or a member does not match its recorded SHA-256."""


class FormatVersionError(ArtifactError):
    """The file was written in a format version this oddsline cannot read."""


class SignatureError(ArtifactError):
    """A model file is unsigned where a signature is required, or its signature does not verify."""


class RegistryError(OddslineError):
    """A registry request that cannot be done: unknown model/version/alias, a bad name, a refused promotion."""


class RegistryBusyError(RegistryError):
    """The registry's database stayed locked by another writer past the busy timeout. Retryable:
    the CLI exits 75 (EX_TEMPFAIL) so that a scheduler retries rather than gives up."""


class NotFittedError(OddslineError, ValueError, AttributeError):
    """An estimator was used before it was fitted."""


class ConvergenceWarning(UserWarning):
    """A solver stopped before reaching its tolerance; the message says why and what to do."""


class LeakageWarning(UserWarning):
    """One column alone nearly separates the classes, or the held-out AUC is too good to be true: the
    column probably records the outcome (a payment made, a delay observed) rather than predicting it."""
