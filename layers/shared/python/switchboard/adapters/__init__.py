"""Platform adapters: one file per platform behind one small interface.

Adding a platform means adding an adapter module and its sample events, and registering it in ``ADAPTERS``.
"""

from __future__ import annotations

from switchboard.adapters.base import Accepted, Ignored, PlatformAdapter, Reply, WebhookRequest
from switchboard.adapters.github import GitHubAdapter
from switchboard.adapters.slack import SlackAdapter
from switchboard.adapters.standard import StandardWebhooksAdapter
from switchboard.errors import UnknownPlatform

ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "github": GitHubAdapter,
    "slack": SlackAdapter,
    "standard": StandardWebhooksAdapter,
}


def adapter_for(platform: str) -> PlatformAdapter:
    try:
        return ADAPTERS[platform]()
    except KeyError:
        raise UnknownPlatform("unknown_platform", platform) from None


__all__ = ["ADAPTERS", "Accepted", "Ignored", "PlatformAdapter", "Reply", "WebhookRequest", "adapter_for"]
