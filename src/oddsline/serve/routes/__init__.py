"""The service's routes, one module per protocol, each an ``APIRouter`` over the :class:`Service` in
``app.state.service``: mounted together by ``create_app``, or alone in a test."""

from . import admin, labels, mlflow, native, oip

__all__ = ["admin", "labels", "mlflow", "native", "oip"]
