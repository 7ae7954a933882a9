"""A service deployed without its API URL fails the act worker's settings, naming the CDK context key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from switchboard import catalog
from switchboard.settings import ActSettings


def tickets_settings(**overrides: Any) -> ActSettings:
    values: dict[str, Any] = {
        "powertools_service_name": "switchboard-act",
        "service": "tickets",
        "tasks_table_name": "tasks",
        "memory_table_name": "memory",
        "act_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/act-tickets.fifo",
        "service_api_url": "https://tickets.example.com/api",
        "service_token_secret_id": "token",
        "max_receive_count": 5,
        "shadow_mode_parameter": "/switchboard/shadow-mode",
        "disabled_abilities_parameter": "/switchboard/disabled-abilities",
        "act_escalate_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/act-escalate.fifo",
        "act_github_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/act-github.fifo",
        "act_slack_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/act-slack.fifo",
        "followups_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/followups",
    }
    return ActSettings(**(values | overrides))


def test_the_placeholder_tickets_url_is_a_configuration_error_naming_the_context_key() -> None:
    with pytest.raises(ValidationError, match=r"placeholder.*-c ticketsApiUrl=https://"):
        tickets_settings(service_api_url=catalog.DEFAULT_TICKETS_API_URL)


@pytest.mark.parametrize("url", ["https://invalid/api", "http://tickets.invalid.:8080/x"])
def test_any_invalid_host_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        tickets_settings(service_api_url=url)


@pytest.mark.parametrize(
    "url", ["https://tickets.example.com/api", "http://127.0.0.1:8765/tickets", "https://invalid.example.com"]
)
def test_a_configured_url_passes(url: str) -> None:
    assert tickets_settings(service_api_url=url).service_api_url == url
