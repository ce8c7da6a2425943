"""A MODEL argument is a file path or a registry reference (``churn@champion``, ``churn@3``, ``churn``).

``load_any_model`` returns whichever kind the file holds (the verbs that take every kind: evaluate,
predict, inspect, serve); ``load_model`` is for the verbs that take binary models only, and refuses
another kind with one line that names the verb, the limit and what to use instead.
"""

from __future__ import annotations

from .._exceptions import ParameterError
from ..models import Model, MulticlassModel, ScoringModel
from ..registry.references import load_any_model

__all__ = ["describe_kind", "load_any_model", "load_model"]


def load_model(
    reference: str,
    *,
    trusted_keys: list[str] | None = None,
    verb: str = "this command",
    instead: str = "oddsline evaluate, predict and inspect take every kind",
) -> Model:
    """A binary model, or a :class:`ParameterError` naming ``verb``'s limit and ``instead``."""
    model = load_any_model(reference, trusted_keys=trusted_keys)
    if not isinstance(model, Model):
        raise ParameterError(f"{reference} is a {describe_kind(model)}; {verb} takes binary models only ({instead})")
    return model


def describe_kind(model: ScoringModel) -> str:
    """``multinomial model of 'grade' (7 classes)``, ``binary model of 'churn'``."""
    if isinstance(model, Model):
        return f"binary model of {model.target.name!r}"
    if isinstance(model, MulticlassModel):
        return f"multinomial model of {model.target.name!r} ({len(model.classes)} classes)"
    return f"model of kind {model.kind!r}"
