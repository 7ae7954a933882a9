"""The former counting helper, kept only until its last callers (classify, decide) call
``switchboard.metrics.count`` with a ``catalog.Metric``. A name that is not in the catalog fails here too.
"""

from __future__ import annotations

from switchboard.catalog import Metric
from switchboard.metrics import count as _count
from switchboard.metrics import metrics

__all__ = ["count", "metrics"]


def count(name: str | Metric, value: float = 1, **dimensions: str) -> None:
    _count(Metric(name), value, **dimensions)
