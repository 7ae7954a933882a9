"""Garbage collection across a cold start: off from the handler module's first line to the end of its first
call, then on, with everything those two built frozen.

What a cold start builds lives as long as the execution environment: the modules, pydantic's validators and
serializers, the loggers (the import), botocore's session, clients and service models (the first call). A
collection during it walks all of that and frees next to nothing; in the ingest function about 60 young
collections during the import and 90 during the first call took some 18 ms of the cold start on the bench
(``tools/bench/coldstart.py``). Frozen (``gc.freeze``), those objects are left out of every later collection,
which then walks only what requests allocate. The price: a reference cycle the cold start left unreachable is
never freed (the collections of an ingest cold start free a few hundred objects, once).

A handler module turns collection off before its imports (``gc.disable()``, its first statement) and wraps
its handler in ``collect_after_first_call``; it must do both or neither, since the wrapper is what turns
collection back on.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def collect_after_first_call(handler: Callable[P, R]) -> Callable[P, R]:
    """``handler``, which at the end of its first call (returned or raised) freezes what the process holds and
    turns garbage collection back on."""
    first = True

    @wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal first
        if not first:
            return handler(*args, **kwargs)
        first = False
        try:
            return handler(*args, **kwargs)
        finally:
            gc.freeze()
            gc.enable()

    return wrapper
