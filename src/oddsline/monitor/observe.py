"""Observability as code: Prometheus recording and alerting rules and three Grafana dashboards,
generated from a model and the metrics ``oddsline serve`` exports.

Service objectives: availability (non-5xx answers of the scoring routes) and latency (answers within
``latency_seconds``), each alerted on multi-window burn rates (Google SRE workbook: a fast burn, 14.4x
the budget over 1 h and 5 min, pages; a slow burn, 6x over 6 h and 30 min, opens a ticket). Model
health: score and input drift measured by the server on recent traffic, calibration in the large and
mean log loss on labelled predictions against the model's own held-out log loss, label lag, rejected
reloads and overload.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .._exceptions import ParameterError
from .durations import duration, seconds

__all__ = ["LATENCY_BUCKETS", "grafana_dashboards", "metric_names", "prometheus_rules"]

# The bounds of the server's latency histogram (serve/metrics.py uses these): a latency objective can
# only be one of them, or its rule would select a bucket that does not exist and never fire. They reach
# past the default request timeout (30 s), so slow answers are told apart from timed-out ones.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SCORING_ROUTES = "/v1/models/.+/predict|/invocations|/v2/models/.+/infer"
# Where the runbooks live (one section per alert, the alert's name lower case as its anchor);
# `oddsline observe prometheus --runbook-url` points the links at a team's own copy.
RUNBOOKS = "docs/runbooks.md"
# The measured value in an alert's description, as Prometheus renders it (Go's %.3g).
VALUE = '{{ printf "%.3g" $value }}'

_WINDOWS = ("5m", "30m", "1h", "6h")
_IDLE_RATE = "1e-9"  # requests per second: the floor of a ratio's denominator


def _check_objectives(
    availability: float,
    latency_seconds: float,
    latency_objective: float,
    psi: float,
    calibration_gap: float,
    label_lag_hours: float,
) -> None:
    """Refuse objectives no alert could use, naming the option and what it takes."""
    for flag, value in (("--availability", availability), ("latency_objective", latency_objective)):
        if not 0 < value < 1:
            raise ParameterError(f"{flag} is a share of requests strictly between 0 and 1 (e.g. 0.999), got {value!r}")
    if not any(abs(latency_seconds - bound) < 1e-12 for bound in LATENCY_BUCKETS):
        bounds = ", ".join(f"{b:g}" for b in LATENCY_BUCKETS)
        raise ParameterError(
            f"--latency {latency_seconds!r} is not a bound of the server's latency histogram, so no rule could "
            f"measure it; choose one of {bounds} (seconds)"
        )
    for flag, value in (("--psi", psi), ("--label-lag-hours", label_lag_hours)):
        if not 0 < value < math.inf:  # an infinite threshold is an alert that can never fire
            raise ParameterError(f"{flag} must be a positive number, got {value!r}")
    if not 0 < calibration_gap < 1:
        raise ParameterError(
            f"--calibration-gap is a difference of rates, strictly between 0 and 1 (e.g. 0.05), got {calibration_gap!r}"
        )


def _check_label_value(flag: str, what: str, value: str) -> None:
    """A value that goes into label selectors: a quote, a backslash or a line break would break them."""
    if not re.fullmatch(r"[^\"\\\n]+", value):
        raise ParameterError(f"{flag} must be a {what} without quotes, backslashes or line breaks, got {value!r}")


def _check_name(name: str) -> None:
    _check_label_value("--name", "model name", name)


def _check_window(window: str) -> float:
    """The labelled-performance window: a Prometheus duration of at least a minute (an increase over
    less sees fewer than two scrapes, and the rules and panels would never have a value)."""
    length = seconds(window, "--window")
    if length < 60:
        raise ParameterError(f"--window must be at least 1m (it spans several scrapes), got {window!r}")
    return length


def _bound_label(bound: float) -> str:
    """A histogram bound as the exposition writes its ``le`` label: prometheus_client (Go's float
    formatting) writes 1 as "1.0", and a rule selecting le="1" would match nothing."""
    return repr(float(bound))


def _with(*matchers: str) -> str:
    """A label selector of the non-empty matchers ("" when there are none)."""
    kept = [m for m in matchers if m]
    return "{" + ",".join(kept) + "}" if kept else ""


def _scoring(extra: str = "", scope: str = "") -> str:
    """The selector of scoring requests, with ``extra`` and ``scope`` (the model's and job's matchers)."""
    return _with(f'route=~"{SCORING_ROUTES}"', extra, scope)


def prometheus_rules(
    model: Any,
    name: str,
    *,
    availability: float = 0.999,
    latency_seconds: float = 0.05,
    latency_objective: float = 0.99,
    psi: float = 0.2,
    drift_for: str = "10m",
    calibration_gap: float = 0.05,
    log_loss_increase: float = 0.10,
    performance_window: str = "6h",
    min_labels: int = 200,
    label_lag_hours: float = 48.0,
    runbook_url: str = RUNBOOKS,
    job: str | None = None,
    input_anomaly_rate: float = 0.05,
    speedup: float = 1.0,
) -> dict[str, Any]:
    """The rules file (as a dict, for YAML) for the model served under ``name``. Every alert has a
    summary, a description that shows the measured value, and a ``runbook_url``: ``runbook_url`` with
    the alert's name, lower case, as the fragment.

    Scoping: every recorded series carries ``model="name"`` and every alert selects it, so the rules of
    two models loaded side by side never fire on each other's records; the request series are read for
    this model too (the server labels each request with the model its route names). With ``job``, the
    Prometheus job that scrapes this model's servers, every series is read from that job only, and the
    target's ``up`` is alerted on; without it, from every job that exports them (two services serving
    a model of the same name would share its SLO).

    ``speedup`` divides every window, ``for:``, evaluation interval and the label lag by that factor
    (recorded series keep their nominal names, so the dashboards read them unchanged): a rehearsal of
    the rules against a live Prometheus, as tests/observability does, then takes minutes."""
    _check_objectives(availability, latency_seconds, latency_objective, psi, calibration_gap, label_lag_hours)
    if not 0 < input_anomaly_rate < 1:
        raise ParameterError(
            f"--input-anomaly-rate is a share of scored rows, strictly between 0 and 1 (e.g. 0.05), got "
            f"{input_anomaly_rate!r}"
        )
    _check_name(name)
    if job is not None:
        _check_label_value("--job", "Prometheus job name", job)
    if not 1 <= speedup <= 60:
        raise ParameterError(
            f"--speedup divides the rules' windows for rehearsals and takes 1 (real time) to 60 (the 1-minute "
            f"window becomes 1 s, about the shortest a scrape can fill); got {speedup!r}"
        )
    _check_window(performance_window)
    seconds(drift_for, "drift_for")

    def span(nominal: str) -> str:
        return duration(seconds(nominal) / speedup)

    j = f'job="{job}"' if job else ""
    m = f'model="{name}"' + (f",{j}" if j else "")
    own = f'{{model="{name}"}}'  # this model's recorded series
    dropped = 'outcome="dropped"'
    budget, slow_budget = 1 - availability, 1 - latency_objective
    records: list[dict[str, Any]] = []
    server_error, fast_enough = 'status=~"5.."', f'le="{_bound_label(latency_seconds)}"'
    for w in _WINDOWS:
        # Divided by at least a tiny rate: with no requests in the window the ratios are 0 (nothing
        # failed, nothing was slow), not NaN, so an idle service's availability panel reads 100%.
        # A real rate is at least one request per window, far above the floor.
        answered = f"sum by (job) (rate(oddsline_request_duration_seconds_count{_scoring('', m)}[{span(w)}]))"
        requests = f"sum by (job) (rate(oddsline_requests_total{_scoring('', m)}[{span(w)}]))"
        records.append(
            {
                "record": f"oddsline:scoring_errors:ratio_rate{w}",
                "expr": f"sum by (job) (rate(oddsline_requests_total{_scoring(server_error, m)}[{span(w)}]))"
                f" / clamp_min({requests}, {_IDLE_RATE})",
                "labels": {"model": name},
            }
        )
        records.append(
            {
                "record": f"oddsline:scoring_slow:ratio_rate{w}",
                "expr": f"({answered} - sum by (job) "
                f"(rate(oddsline_request_duration_seconds_bucket{_scoring(fast_enough, m)}[{span(w)}])))"
                f" / clamp_min({answered}, {_IDLE_RATE})",
                "labels": {"model": name},
            }
        )
    pw = performance_window
    records += [
        {
            "record": f"oddsline:labelled_calibration_gap:{pw}",
            "expr": f"abs(sum by (model, job) (increase(oddsline_labelled_positive_total{{{m}}}[{span(pw)}]))"
            f" - sum by (model, job) (increase(oddsline_labelled_probability_total{{{m}}}[{span(pw)}])))"
            f" / sum by (model, job) (increase(oddsline_labelled_total{{{m}}}[{span(pw)}]))",
        },
        {
            "record": f"oddsline:labelled_log_loss:mean{pw}",
            "expr": f"sum by (model, job) (increase(oddsline_labelled_log_loss_total{{{m}}}[{span(pw)}]))"
            f" / sum by (model, job) (increase(oddsline_labelled_total{{{m}}}[{span(pw)}]))",
        },
        {
            "record": f"oddsline:labelled:increase{pw}",
            "expr": f"sum by (model, job) (increase(oddsline_labelled_total{{{m}}}[{span(pw)}]))",
        },
    ]
    alerts: list[dict[str, Any]] = []

    def burn(
        alert: str, kind: str, long: str, short: str, factor: float, allowed: float, severity: str, what: str
    ) -> None:
        alerts.append(
            {
                "alert": alert,
                "expr": f"oddsline:scoring_{kind}:ratio_rate{long}{own} > {factor * allowed:g}"
                f" and oddsline:scoring_{kind}:ratio_rate{short}{own} > {factor * allowed:g}",
                "for": span("2m"),
                "labels": {"severity": severity, "model": name},
                "annotations": {
                    "summary": f"{what} budget burning {factor:g}x too fast ({long} and {short} windows)",
                    "description": f"{what} ratio over {long}: {VALUE} (the budget allows {allowed:g}). Check "
                    "/metrics for failing routes and recent reloads; roll back with "
                    f"`oddsline registry rollback {name}` if a new version is to blame",
                },
            }
        )

    burn("OddslineErrorBudgetFastBurn", "errors", "1h", "5m", 14.4, budget, "page", "error")
    burn("OddslineErrorBudgetSlowBurn", "errors", "6h", "30m", 6.0, budget, "ticket", "error")
    burn("OddslineLatencyFastBurn", "slow", "1h", "5m", 14.4, slow_budget, "page", "latency")
    burn("OddslineLatencySlowBurn", "slow", "6h", "30m", 6.0, slow_budget, "ticket", "latency")
    reference_log_loss = (model.info.get("evaluation") or {}).get("log_loss")
    alerts += [
        {
            "alert": "OddslineScoreDrift",
            "expr": f"oddsline_score_psi{{{m}}} > {psi:g}",
            "for": span(drift_for),
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": f"the score distribution moved (PSI > {psi:g}) against training",
                "description": f"score PSI {VALUE} on the recent traffic",
            },
        },
        {
            "alert": "OddslineInputDrift",
            "expr": f"oddsline_drift_detected{{{m}}} == 1",
            "for": span("30m"),
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": "input column {{ $labels.column }} drifted (large and significant shift)",
                "description": "oddsline_drift_psi{column=...} shows how far; see the debug dashboard",
            },
        },
        {
            "alert": "OddslineInputAnomalies",
            # Unseen levels and out-of-range numbers per scored row, by kind: a broken upstream (a
            # renamed category, a unit change) shows here within minutes, long before drift is significant.
            "expr": f'sum by (model, event) (rate(oddsline_input_events_total{{{m},event=~"unseen|out_of_range"}}[{span("10m")}]))'
            f" / on (model) group_left sum by (model) (rate(oddsline_predictions_total{{{m}}}[{span('10m')}]))"
            f" > {input_anomaly_rate:g}",
            "for": span("10m"),
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": "{{ $labels.event }} inputs in more than "
                f"{input_anomaly_rate:.0%} of scored rows: check what the callers send",
                "description": "{{ $labels.event }} values per scored row over 10 minutes: "
                f"{VALUE}; oddsline_input_events_total by column says which",
            },
        },
        {
            "alert": "OddslineCalibrationGap",
            "expr": f"oddsline:labelled_calibration_gap:{pw}{own} > {calibration_gap:g}"
            f" and oddsline:labelled:increase{pw}{own} >= {min_labels}",
            "for": span("15m"),
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": f"observed positive rate and mean prediction differ by more than {calibration_gap:g}",
                "description": f"|observed - predicted| over {pw}: {VALUE}",
            },
        },
        {
            "alert": "OddslineLabelLag",
            "expr": f"time() - max(oddsline_last_label_timestamp_seconds{{{m}}}) > {label_lag_hours * 3600 / speedup:g}",
            "for": span("15m"),
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": f"no label arrived for {label_lag_hours:g} h: performance is flying blind",
                "description": f"seconds since the last matched label (or the server's start): {VALUE}",
            },
        },
        {
            "alert": "OddslineReloadRejected",
            "expr": f'increase(oddsline_model_loads_total{{{m},outcome="rejected"}}[{span("15m")}]) > 0',
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": "a new model version failed verification; the old one keeps serving",
                "description": f"rejected loads in 15 minutes: {VALUE}; the server log says why",
            },
        },
        {
            "alert": "OddslineOverload",
            # Refusals in every minute for 5 minutes: a burst of 30 s is over before it could page.
            "expr": f"sum(rate(oddsline_rejected_overload_total{_with(j)}[{span('1m')}])) > 0",
            "for": span("5m"),
            "labels": {"severity": "page", "model": name},
            "annotations": {
                "summary": "requests are refused at the concurrency limit: add workers or replicas",
                "description": f"refused requests per second: {VALUE}, every minute for 5 minutes",
            },
        },
        {
            "alert": "OddslinePredictionLogDropping",
            # The log fails open (a full disk, a queue the writer cannot keep up with): requests are
            # answered, rows are lost, and only this says so.
            "expr": f"sum(increase(oddsline_prediction_log_rows_total{_with(j, dropped)}[{span('10m')}])) > 0",
            "labels": {"severity": "ticket", "model": name},
            "annotations": {
                "summary": "the prediction log is dropping rows (disk full or the writer behind)",
                "description": f"rows dropped in 10 minutes: {VALUE}; the server log says why; logging "
                "resumes by itself once the disk has room",
            },
        },
        {
            "alert": "OddslineModelNotServed",
            # A stopped server, one Prometheus cannot scrape, and one that lost the model all leave no
            # oddsline_model_info at 1 (a failed scrape marks its series stale at once), and nothing
            # else would fire: every other rule reads series that are then absent.
            "expr": f"absent(max(oddsline_model_info{{{m}}}) == 1)",
            "for": span("2m"),
            "labels": {"severity": "page", "model": name},
            "annotations": {
                "summary": f"no server reports serving {name}: it is down, unscrapable, or lost the model",
                "description": "no oddsline_model_info series at 1 for 2 minutes; check the process, its "
                "/v2/health/ready and Prometheus' targets page",
            },
        },
    ]
    if job:
        alerts.append(
            {
                "alert": "OddslineTargetDown",
                "expr": f"up{{{j}}} == 0",
                "for": span("2m"),
                "labels": {"severity": "page", "model": name},
                "annotations": {
                    "summary": "{{ $labels.instance }} of job " + job + " cannot be scraped",
                    "description": f"up = {VALUE} for 2 minutes: the process is down or /metrics does not answer",
                },
            }
        )
    if reference_log_loss is not None:
        limit = reference_log_loss * (1 + log_loss_increase)
        alerts.append(
            {
                "alert": "OddslineLogLossDegraded",
                "expr": f"oddsline:labelled_log_loss:mean{pw}{own} > {limit:.6g}"
                f" and oddsline:labelled:increase{pw}{own} >= {min_labels}",
                "for": span("15m"),
                "labels": {"severity": "ticket", "model": name},
                "annotations": {
                    "summary": f"labelled log loss above {limit:.4g} (+{log_loss_increase:.0%} on the held-out "
                    f"{reference_log_loss:.4g})",
                    "description": f"mean log loss of the labelled predictions over {pw}: {VALUE}",
                },
            }
        )
    for alert in alerts:
        alert["annotations"]["runbook_url"] = f"{runbook_url}#{alert['alert'].lower()}"
    return {
        "groups": [
            {"name": f"oddsline-{name}-records", "interval": span("30s"), "rules": records},
            {"name": f"oddsline-{name}-alerts", "interval": span("30s"), "rules": alerts},
        ]
    }


def _panel(
    title: str, exprs: list[str], kind: str = "timeseries", unit: str = "short", x: int = 0, y: int = 0
) -> dict[str, Any]:
    # A heatmap reads buckets as buckets only when the query says so; otherwise one line per bound.
    extra = {"format": "heatmap"} if kind == "heatmap" else {}
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(65 + k), "expr": e, "legendFormat": "__auto", **extra} for k, e in enumerate(exprs)],
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,  # on time range change: a new replica shows up without editing the dashboard
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
    }


def _dashboard(model: str, uid: str, title: str, panels: list[tuple[str, list[str], str, str]]) -> dict[str, Any]:
    laid = [_panel(t, e, k, u, x=12 * (i % 2), y=8 * (i // 2)) for i, (t, e, k, u) in enumerate(panels)]
    for i, p in enumerate(laid):
        p["id"] = i + 1
    return {
        "uid": uid,
        "title": title,
        "tags": ["oddsline"],
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                _variable("job", f'label_values(oddsline_model_info{{model="{model}"}}, job)'),
                _variable("instance", f'label_values(oddsline_model_info{{model="{model}",job=~"$job"}}, instance)'),
            ]
        },
        "panels": laid,
    }


def grafana_dashboards(name: str, performance_window: str = "6h") -> dict[str, dict[str, Any]]:
    """Three dashboards by audience: executive (is it working, is it good), on-call (SLOs, errors,
    latency, saturation), debug (inputs, drift per column, validation failures, reloads)."""
    here = 'job=~"$job",instance=~"$instance"'  # the dashboard's job and instance variables
    m = f'model="{name}",{here}'
    own = f'{{model="{name}",job=~"$job"}}'  # this model's recorded series (summed over instances)
    _check_name(name)
    pw = duration(_check_window(performance_window))
    # The labelled performance over the window, from the counters themselves: recorded series would
    # exist only if the rules were generated with the same --window.
    labelled = f'model="{name}",job=~"$job"'

    def per_labelled(numerator: str) -> str:
        return f"{numerator} / sum by (model, job) (increase(oddsline_labelled_total{{{labelled}}}[{pw}]))"

    log_loss = per_labelled(f"sum by (model, job) (increase(oddsline_labelled_log_loss_total{{{labelled}}}[{pw}]))")
    calibration_gap = per_labelled(
        f"abs(sum by (model, job) (increase(oddsline_labelled_positive_total{{{labelled}}}[{pw}]))"
        f" - sum by (model, job) (increase(oddsline_labelled_probability_total{{{labelled}}}[{pw}])))"
    )
    executive = _dashboard(
        name,
        f"oddsline-{name}-executive",
        f"{name}: executive",
        [
            (
                "Scored rows per second",
                [f"sum by (decision) (rate(oddsline_predictions_total{{{m}}}[5m]))"],
                "timeseries",
                "reqps",
            ),
            ("Availability (30 min)", [f"1 - oddsline:scoring_errors:ratio_rate30m{own}"], "stat", "percentunit"),
            ("Labelled log loss", [log_loss], "timeseries", "short"),
            (
                "Calibration gap (observed - predicted)",
                [calibration_gap],
                "timeseries",
                "percentunit",
            ),
            (
                "Positive decisions share",
                [
                    f'sum(rate(oddsline_predictions_total{{{m},decision="positive"}}[1h])) / sum(rate(oddsline_predictions_total{{{m}}}[1h]))'
                ],
                "stat",
                "percentunit",
            ),
            ("Score drift (PSI)", [f"oddsline_score_psi{{{m}}}"], "timeseries", "short"),
        ],
    )
    oncall = _dashboard(
        name,
        f"oddsline-{name}-oncall",
        f"{name}: on-call",
        [
            (
                "Error ratio by window",
                [f"oddsline:scoring_errors:ratio_rate{w}{own}" for w in _WINDOWS],
                "timeseries",
                "percentunit",
            ),
            (
                "Slow-request ratio by window",
                [f"oddsline:scoring_slow:ratio_rate{w}{own}" for w in _WINDOWS],
                "timeseries",
                "percentunit",
            ),
            (
                "Latency p50 / p99",
                [
                    f"histogram_quantile({q}, sum by (le) (rate(oddsline_request_duration_seconds_bucket{_scoring(m)}[5m])))"
                    for q in (0.5, 0.99)
                ],
                "timeseries",
                "s",
            ),
            (
                "Requests by status",
                [f"sum by (status) (rate(oddsline_requests_total{{{m}}}[5m]))"],
                "timeseries",
                "reqps",
            ),
            (
                "In flight / refused at the limit",
                [
                    f"sum(oddsline_requests_in_flight{{{here}}})",
                    f"sum(rate(oddsline_rejected_overload_total{{{here}}}[5m]))",
                ],
                "timeseries",
                "short",
            ),
            ("Draining", [f"max(oddsline_draining{{{here}}})"], "stat", "short"),
        ],
    )
    debug = _dashboard(
        name,
        f"oddsline-{name}-debug",
        f"{name}: debug",
        [
            ("Input drift (PSI) by column", [f"oddsline_drift_psi{{{m}}}"], "timeseries", "short"),
            ("Drifted columns", [f"oddsline_drift_detected{{{m}}} == 1"], "table", "short"),
            (
                "Input events (imputed, unseen, out of range) by column",
                [f"sum by (event, column) (rate(oddsline_input_events_total{{{m}}}[15m]))"],
                "timeseries",
                "short",
            ),
            (
                "Validation failures by field",
                [f"sum by (field) (rate(oddsline_validation_failures_total{{{here}}}[15m]))"],
                "timeseries",
                "short",
            ),
            ("Score distribution", [f"sum by (le) (rate(oddsline_score_bucket{{{m}}}[15m]))"], "heatmap", "short"),
            (
                "Model loads by outcome",
                [f"sum by (outcome) (increase(oddsline_model_loads_total{{{m}}}[1h]))"],
                "timeseries",
                "short",
            ),
            (
                "Labels by outcome / label delay p50",
                [
                    f'sum by (outcome) (rate(oddsline_labels_total{{model=~"{name}|",{here}}}[1h]))',
                    f"histogram_quantile(0.5, sum by (le) (rate(oddsline_label_delay_seconds_bucket{{{m}}}[6h])))",
                ],
                "timeseries",
                "short",
            ),
            (
                "Hours since the last label",
                [f"(time() - max(oddsline_last_label_timestamp_seconds{{{m}}})) / 3600"],
                "stat",
                "h",
            ),
        ],
    )
    return {"executive": executive, "oncall": oncall, "debug": debug}


def metric_names(expressions: list[str]) -> set[str]:
    """The exported metric families an expression reads (recording-rule names excluded), without the
    _total / _bucket / _count / _sum suffixes the exposition adds."""
    names = set()
    for expr in expressions:
        for found in re.findall(r"\b(oddsline_[a-z0-9_]+)", expr):
            names.add(re.sub(r"_(total|bucket|count|sum)$", "", found))
    return names
