"""Speaking scikit-learn's dialect without importing scikit-learn.

scikit-learn's estimator checks look for its own NotFittedError and DataConversionWarning classes.
When scikit-learn is already loaded (so someone is using the two together) oddsline raises classes
that are both its own and scikit-learn's; otherwise only its own, and ``import oddsline`` never
pays for importing scikit-learn.
"""

from __future__ import annotations

import sys
from functools import cache

from ._exceptions import NotFittedError

__all__ = ["data_conversion_warning", "not_fitted_error"]


@cache
def _combined_not_fitted() -> type[NotFittedError]:
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    return type("NotFittedError", (NotFittedError, SkNotFittedError), {"__module__": "oddsline"})


def not_fitted_error(message: str) -> NotFittedError:
    if "sklearn.exceptions" in sys.modules:
        return _combined_not_fitted()(message)
    return NotFittedError(message)


def data_conversion_warning() -> type[Warning]:
    if "sklearn.exceptions" in sys.modules:
        from sklearn.exceptions import DataConversionWarning

        return DataConversionWarning  # type: ignore[no-any-return]
    return UserWarning
