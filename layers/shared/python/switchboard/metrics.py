"""The metrics façade: every application metric goes out through here, named by ``catalog.Metric``.

Metrics without dimensions go into the function's shared Powertools buffer (flushed once per invocation by the
handler's ``@metrics.log_metrics``). A value that carries its own dimensions (which rule, which ability, which
tier, which service's breaker) is written as its own small EMF line at once, so that one invocation's
dimensions never leak into another metric's. The dimensions passed must be the ones the catalog names for the
metric: a misspelt or missing dimension fails loudly instead of making a new, unwatched time series.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from switchboard.catalog import Metric

__all__ = ["Metric", "count", "emit", "metrics"]

metrics = Metrics()


def count(metric: Metric, value: float = 1, **dimensions: str) -> None:
    """Count ``value`` (default 1) of one metric, with the dimensions the catalog names for it."""
    emit({metric: value}, **dimensions)


def emit(values: Mapping[Metric, float], **dimensions: str) -> None:
    """Several metrics that share the same dimensions (one EMF line when they have any)."""
    for metric in values:
        if set(dimensions) != metric.dimensions:
            raise ValueError(
                f"{metric.value} takes the dimensions {sorted(metric.dimensions)}, not {sorted(dimensions)}"
            )
    if not dimensions:
        for metric, value in values.items():
            metrics.add_metric(name=metric.value, unit=MetricUnit(metric.unit), value=value)
        return
    blob = EphemeralMetrics()
    for name, dimension in dimensions.items():
        blob.add_dimension(name=name, value=dimension)
    for metric, value in values.items():
        blob.add_metric(name=metric.value, unit=MetricUnit(metric.unit), value=value)
    blob.flush_metrics()
