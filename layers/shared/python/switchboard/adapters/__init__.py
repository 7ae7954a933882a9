"""Platform adapters: one module per platform behind one small interface.

The registry is discovered: every module in this package that defines a ``PlatformAdapter`` class (one with a
``platform``, ``verify``, ``interpret`` and ``signed_headers``) is a platform. The stack's routes and ingest
functions, the OpenAPI document and ``switchboard send`` all read ``ADAPTERS``, so adding a platform means
adding its adapter module, its sample events under ``events/<platform>/``, and its ``Platform`` member.
"""

from __future__ import annotations

import importlib
import pkgutil

from switchboard.adapters.base import Accepted, Ignored, PlatformAdapter, Reply, WebhookRequest
from switchboard.errors import UnknownPlatform

_INTERFACE = ("platform", "verify", "interpret", "signed_headers")


def _discover() -> dict[str, type[PlatformAdapter]]:
    found: dict[str, type[PlatformAdapter]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and all(hasattr(value, name) for name in _INTERFACE)
            ):
                adapter: type[PlatformAdapter] = value
                found[adapter.platform.value] = adapter
    return found


ADAPTERS: dict[str, type[PlatformAdapter]] = _discover()


def adapter_for(platform: str) -> PlatformAdapter:
    try:
        return ADAPTERS[platform]()
    except KeyError:
        raise UnknownPlatform("unknown_platform", platform) from None


__all__ = ["ADAPTERS", "Accepted", "Ignored", "PlatformAdapter", "Reply", "WebhookRequest", "adapter_for"]
