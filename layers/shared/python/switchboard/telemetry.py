"""Counting things as CloudWatch EMF metrics, in a dimension layout that stays cheap.

Metrics without dimensions go into the function's shared Powertools buffer (flushed once per invocation by
``@metrics.log_metrics``). A count that needs its own dimension (which rule, which ability) is written as its
own small EMF line, so one invocation's dimensions never leak into another metric's.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

metrics = Metrics()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    blob = EphemeralMetrics()
    for key, dimension in dimensions.items():
        blob.add_dimension(name=key, value=dimension)
    blob.add_metric(name=name, unit=MetricUnit.Count, value=value)
    blob.flush_metrics()
