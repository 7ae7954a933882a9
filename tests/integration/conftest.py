"""Fixtures the integration tests share: one Messages API stand-in per test module, and its call log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import cleared_calls
from tools.standin.messages_api import MessagesApiStandin

#: How long the stand-in's ``slow`` fault sleeps unless a module sets ``STANDIN_SLOW_SECONDS``: longer than
#: the SDK's timeouts of the tests that let a slow answer time out, shorter where a test waits it out.
SLOW_SECONDS = 12


@pytest.fixture(scope="module")
def standin(request: pytest.FixtureRequest) -> Iterator[MessagesApiStandin]:
    slow = getattr(request.module, "STANDIN_SLOW_SECONDS", SLOW_SECONDS)
    with MessagesApiStandin(slow_seconds=slow) as server:
        yield server


@pytest.fixture
def calls(standin: MessagesApiStandin) -> list[dict[str, Any]]:
    """The stand-in's call log, emptied (and its faults cleared) for this test."""
    return cleared_calls(standin)
