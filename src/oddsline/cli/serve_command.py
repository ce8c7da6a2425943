"""``oddsline serve MODEL_REF ...``: the scoring service on uvicorn."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

Subparsers = Any


def add_serve(verbs: Subparsers) -> None:
    from ..serve.settings import ConnectionLimits  # light: no FastAPI (serve/__init__.py)

    limits = ConnectionLimits()
    p = verbs.add_parser(
        "serve",
        help="serve models over HTTP: native JSON, Open Inference Protocol V2, MLflow /invocations, /metrics",
        description="Serve each MODEL_REF (an .odl file or a registry reference such as churn@champion). Routes: "
        "POST /v1/models/NAME/predict, GET /v1/models, OIP V2 under /v2, MLflow POST /invocations, GET /metrics; "
        "GET /openapi.json describes them all. Binds 127.0.0.1 unless told otherwise. Scored rows go to the "
        "prediction log; SIGHUP or POST /admin/reload (with $ODDSLINE_ADMIN_TOKEN as bearer) reloads the models. "
        "A multinomial model answers on every route with the most probable class, its probability and the "
        "probability of every class; its predictions are not logged, and it takes no --challenger.",
        epilog="Example: oddsline serve demo-output/churn.odl --port 8000\n"
        "  curl -s localhost:8000/v1/models/churn/predict -d '{\"tenure\": 3, ...}'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("models", nargs="+", metavar="MODEL_REF")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=8 << 20,
        help="request body limit, answered 413 past it (default 8 MiB: 10,000 rows of up to ~800 bytes each)",
    )
    p.add_argument("--max-rows", type=int, default=10_000, help="rows per request limit (default 10000)")
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=256,
        help="requests in progress per worker, counted from their head to their answer (those waiting for "
        "the event loop included); past it: 503 with Retry-After at once, not a queue (default 256)",
    )
    p.add_argument("--trust-key", action="append", metavar="PUB", help="serve only files signed by these keys")
    p.add_argument(
        "--prediction-log",
        metavar="DIR",
        help="append every scored row to Parquet files here (default $ODDSLINE_HOME/predictions; 'none' to disable)",
    )
    p.add_argument("--challenger", metavar="MODEL_REF", help="a challenger for the (single) served model")
    p.add_argument("--canary-percent", type=float, default=0.0, help="share of rows the challenger scores (0-100)")
    p.add_argument(
        "--canary-key", metavar="COL", help="route by this column's hash, so an entity always gets the same model"
    )
    p.add_argument("--shadow", action="store_true", help="the challenger scores every row into the log only")
    p.add_argument("--pii", action="append", default=[], metavar="COL", help="hash this column in the prediction log")
    p.add_argument(
        "--labels",
        metavar="DIR",
        help="store labels posted to /v1/labels here (default $ODDSLINE_HOME/labels; 'none': metrics only)",
    )
    p.add_argument(
        "--drift-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="measure the recent traffic's drift every S seconds into /metrics (0: never; default 60)",
    )
    p.add_argument(
        "--drift-min-rows",
        type=int,
        default=500,
        metavar="N",
        help="measure drift once the server has N recent rows of a model (default 500; the last 5,000, pooled "
        "across --workers); fewer rows make a noisier PSI, and no drift series exists before the first measurement",
    )
    p.add_argument(
        "--remember-predictions",
        type=int,
        default=200_000,
        metavar="N",
        help="recent predictions each worker keeps in memory to join labels posted to /v1/labels (default "
        "200,000, about 40 MB); older ones are joined through the prediction log",
    )
    p.add_argument(
        "--request-timeout", type=float, default=30.0, metavar="S", help="answer 504 past this many seconds (30)"
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=limits.header_timeout,
        metavar="S",
        help="a request's head (request line and headers) must arrive within S seconds: 408 and closed past it (10)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=limits.body_timeout,
        metavar="S",
        help="its body within S seconds of the head: 408 and closed past it (30)",
    )
    for flag, default, what, past in (
        ("--max-url-bytes", limits.max_url_bytes, "the URL", "414"),
        ("--max-headers", limits.max_headers, "header fields per request", "431"),
        ("--max-header-bytes", limits.max_header_bytes, "one header line (name and value)", "431"),
        ("--max-head-bytes", limits.max_head_bytes, "the request line and all headers", "431"),
    ):
        p.add_argument(
            flag, type=int, default=default, metavar="N", help=f"{what}: {past} and closed past N ({default})"
        )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="print a line per request to stderr (client, method, path, status); off by default: it costs "
        "throughput, and /metrics counts requests by route and status",
    )
    p.add_argument(
        "--shed-delay",
        type=float,
        default=limits.shed_delay,
        metavar="S",
        help="past --max-in-flight a request is refused (503, Retry-After: 1) at once; a client that comes back "
        "sooner than told on the same connection gets its next 503 held 10 ms, then twice as long each time up "
        "to S seconds, so that clients retrying at once do not crowd out the admitted requests (0: never "
        "held; at most 1; default 0.25)",
    )
    p.add_argument(
        "--keep-alive",
        type=float,
        default=5.0,
        metavar="S",
        help="close a connection idle for S seconds between requests (5)",
    )
    p.add_argument(
        "--drain-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="on SIGTERM: fail readiness at once, keep serving S seconds (for the load balancer), then stop",
    )
    p.add_argument(
        "--watch-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="how often registry aliases are checked for a move to reload (0: never; default 5)",
    )
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .._exceptions import ParameterError
    from ..models import Model
    from ..serve.entry import ENV
    from ..serve.metrics import STARTED_ENV
    from ..serve.models import load_served
    from ..serve.settings import ConnectionLimits, Settings
    from ..serve.supervisor import SUPERVISOR_ENV

    # Fail here, with the CLI's one-line error, before any worker starts.
    loaded = [load_served(reference, args.trust_key) for reference in args.models]
    if args.challenger and len(args.models) != 1:
        raise ParameterError("--challenger pairs with exactly one served model")
    if args.challenger:
        loaded.append(load_served(args.challenger, args.trust_key))
        if any(s.model.kind != Model.kind for s in loaded):
            raise ParameterError(
                "--challenger pairs binary models (canary and shadow compare positive-class scores); serve a "
                "multinomial model without --challenger"
            )
    for served in loaded:
        if served.model.kind != Model.kind and args.prediction_log != "none":
            print(
                f"oddsline serve: warning: {served.reference} is a multinomial model: it is served on every route, "
                "but its predictions are not written to the prediction log nor matched by /v1/labels (they hold "
                "binary scores)",
                file=sys.stderr,
            )
    for option in (
        "max_body_bytes",
        "max_rows",
        "max_in_flight",
        "drift_min_rows",
        "remember_predictions",
        "max_url_bytes",
        "max_headers",
        "max_header_bytes",
        "max_head_bytes",
    ):
        if getattr(args, option) < 1:
            raise ParameterError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    for option in ("header_timeout", "body_timeout", "keep_alive", "request_timeout"):
        if not getattr(args, option) > 0:
            raise ParameterError(f"--{option.replace('_', '-')} must be a positive number of seconds")
    if not 0 <= args.shed_delay <= 1:
        raise ParameterError(f"--shed-delay must be between 0 and 1 second (Retry-After is 1), got {args.shed_delay}")
    if not 0 <= args.canary_percent <= 100:
        raise ParameterError(f"--canary-percent must be in 0..100, got {args.canary_percent}")
    settings = Settings(
        max_body_bytes=args.max_body_bytes,
        max_rows=args.max_rows,
        max_in_flight=args.max_in_flight,
        prediction_log=None
        if args.prediction_log == "none"
        else (args.prediction_log or _default_folder("predictions")),
        pii_columns=tuple(args.pii),
        canary_percent=args.canary_percent,
        canary_key=args.canary_key,
        shadow=args.shadow,
        request_timeout=args.request_timeout,
        drain_seconds=args.drain_seconds,
        watch_seconds=args.watch_seconds,
        labels_folder=None if args.labels == "none" else (args.labels or _default_folder("labels")),
        drift_seconds=args.drift_seconds,
        drift_min_rows=args.drift_min_rows,
        remembered_predictions=args.remember_predictions,
        trusted_keys=tuple(args.trust_key or ()),
        connection=ConnectionLimits(
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            max_url_bytes=args.max_url_bytes,
            max_headers=args.max_headers,
            max_header_bytes=args.max_header_bytes,
            max_head_bytes=args.max_head_bytes,
            shed_delay=args.shed_delay,
        ),
    )
    os.environ[ENV] = json.dumps({"models": args.models, "challenger": args.challenger, "settings": settings.to_json()})
    os.environ[STARTED_ENV] = repr(time.time())
    if args.workers > 1:
        # Each worker writes its metrics to files here; /metrics sums them (see serve/metrics.py).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="oddsline-metrics-")
        os.environ[SUPERVISOR_ENV] = str(os.getpid())  # the supervisor runs in this process
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal to the handler it found
    # installed: this one turns that drained shutdown into exit status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listing = ", ".join(f"{s.name} (version {s.version})" for s in loaded)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"oddsline serve: {listing} on http://{host}:{args.port} with {args.workers} worker(s); "
        f"try GET /v1/models, POST /v1/models/{loaded[0].name}/predict; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    options = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": args.keep_alive,
        "http": "oddsline.serve.protocol:NoDelayProtocol",
    }
    if args.access_log:
        options.update(log_level=None, log_config=_access_log_config())
    try:
        if args.workers > 1:
            # uvicorn.run's multi-worker branch, with a supervisor that turns SIGHUP into a reload in
            # each worker rather than a restart of the workers.
            from ..serve.supervisor import ReloadingMultiprocess

            config = uvicorn.Config("oddsline.serve.entry:app_from_env", **options)  # type: ignore[arg-type]
            ReloadingMultiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.run("oddsline.serve.entry:app_from_env", **options)  # type: ignore[arg-type]
    finally:
        if args.workers > 1:
            shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
            os.environ.pop(SUPERVISOR_ENV, None)
    return 0


def _default_folder(name: str) -> str:
    home = os.environ.get("ODDSLINE_HOME") or ".oddsline"
    return os.path.join(home, name)


def _access_log_config() -> dict[str, Any]:
    """uvicorn's logging with its access lines on (to stderr, where the server's other lines go) and
    its own messages at warnings, as without the option."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    return config
