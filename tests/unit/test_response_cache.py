"""The response cache's process tier (``ProcessLlmCache``): same model, prompt and tools within the TTL,
kept in the warm container, bounded, with the shared DynamoDB tier behind it only when asked for."""

from __future__ import annotations

from typing import Any

from switchboard.llm import ProcessLlmCache, ResponseCache, ToolCall
from tests.fakes.memory import FakeClock, MemoryLlmCache

CALL = {"name": "classify", "input": {"intent": "question", "confidence": 0.9}}


class CountingCache(MemoryLlmCache):
    """The shared tier, counting its requests."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.requests: list[str] = []

    def get(self, key: str) -> dict[str, Any] | None:
        self.requests.append("get")
        return super().get(key)

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        self.requests.append("put")
        super().put(key, value, ttl_seconds)


def test_a_call_is_kept_for_its_ttl_and_no_longer() -> None:
    clock = FakeClock()
    cache = ProcessLlmCache(clock=clock)
    assert cache.get("k") is None
    cache.put("k", CALL, 60)
    clock.now += 60
    assert cache.get("k") == CALL
    clock.now += 1
    assert cache.get("k") is None


def test_the_least_recently_used_call_goes_first_when_full() -> None:
    cache = ProcessLlmCache(max_entries=2, clock=FakeClock())
    cache.put("a", CALL, 60)
    cache.put("b", CALL, 60)
    assert cache.get("a") == CALL  # a is now the most recently used
    cache.put("c", CALL, 60)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (CALL, None, CALL)


def test_a_hit_is_a_copy_that_the_caller_cannot_change() -> None:
    cache = ProcessLlmCache(clock=FakeClock())
    cache.put("k", CALL, 60)
    hit = cache.get("k")
    assert hit is not None
    hit["input"]["intent"] = "changed"
    assert cache.get("k") == CALL


def test_without_a_shared_tier_no_request_is_made_and_with_one_a_miss_asks_it() -> None:
    clock = FakeClock()
    shared = CountingCache(clock)
    shared.put("elsewhere", CALL, 60)  # written by another container
    shared.requests.clear()
    cache = ProcessLlmCache(shared=shared, clock=clock)
    assert cache.get("elsewhere") == CALL
    cache.put("k", CALL, 60)
    assert cache.get("k") == CALL  # the process's own copy: no request
    assert shared.requests == ["get", "put"]
    assert shared.get("k") == CALL  # written through


def test_the_response_cache_key_is_the_model_prompt_and_tools() -> None:
    cache = ResponseCache(ProcessLlmCache(clock=FakeClock()), 60)
    request = {"model": "m", "system": "s", "messages": [{"role": "user", "content": "hi"}], "tools": []}
    cache.put(cache.key(request), ToolCall("classify", {"intent": "question"}, (), "toolu_1", "m"))
    hit = cache.get(cache.key(dict(request)))
    assert hit is not None and (hit.name, hit.input, hit.model) == ("classify", {"intent": "question"}, "m")
    assert cache.get(cache.key(request | {"model": "other"})) is None
    assert cache.get(cache.key(request | {"tools": [{"name": "x"}]})) is None
