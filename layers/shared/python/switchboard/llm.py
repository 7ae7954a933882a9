"""The budgeted LLM client: the only code that holds the Anthropic API key.

Before every call it checks the response cache and reserves the call's worst case against two atomic
counters (tokens for this task, dollars for today; a ``BudgetLedger``, DynamoDB in AWS); over budget, the
call is not made. After the call it
settles the counters with the real usage and returns a ledger entry (tokens in and out, dollars from a dated
price table) that the caller writes to the task history and to metrics. Each tier has its own timeout;
transient errors get the SDK's retries and then one fallback tier. ``anthropic`` is imported lazily, so no
function pays for it unless it really asks a model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from switchboard import claude
from switchboard.deadline import Deadline
from switchboard.errors import (
    BudgetExceeded,
    DeadlineReached,
    LlmError,
    ModelDeclined,
    ModelRefused,
    ModelUnavailable,
)
from switchboard.ports import BudgetLedger, Clock, LlmCache
from switchboard.settings import LlmMixin

logger = Logger(child=True)

# USD per million tokens (input, output), from the model pages of Anthropic's platform docs, read 2026-11-21.
# Haiku 5.5's price is for prompts up to 100,000 tokens; ours are far smaller (the prompt is capped).
PRICES_DATE = "2026-11-21"
PRICES_PER_MTOK: dict[str, tuple[Decimal, Decimal]] = {
    "claude-haiku-5-5": (Decimal("0.10"), Decimal("0.50")),
    "claude-sonnet-5-5": (Decimal("2"), Decimal("10")),
    "claude-opus-5-5": (Decimal("4"), Decimal("20")),
    "claude-haiku-4-5": (Decimal("1"), Decimal("5")),
    "claude-opus-4-5": (Decimal("5"), Decimal("25")),
}
PRICIEST = (Decimal("5"), Decimal("25"))
DEFAULT_TIERS = {"small": "claude-haiku-5-5", "medium": "claude-sonnet-5-5", "large": "claude-opus-5-5"}
FALLBACK = {"small": "medium", "medium": "large", "large": "medium"}
TIMEOUTS = {"small": 10.0, "medium": 20.0, "large": 30.0}
MIN_CALL_SECONDS = 2.0  # less time than this left before the deadline: no new attempt is started


# The errors are defined in switchboard.errors; classify and decide import them from here as well.
__all__ = [
    "Budget",
    "BudgetExceeded",
    "BudgetedLlm",
    "DeadlineReached",
    "LedgerEntry",
    "LlmAnswer",
    "LlmConfig",
    "LlmError",
    "ModelDeclined",
    "ModelRefused",
    "ModelUnavailable",
    "ResponseCache",
    "ToolCall",
    "budgeted_llm",
    "cost_usd",
    "emit_ledger",
    "estimate_tokens",
]


@dataclass(frozen=True)
class LlmConfig:
    tiers: dict[str, str]
    task_token_cap: int
    daily_usd_cap: Decimal
    cache_ttl_seconds: int
    max_retries: int = 2


@dataclass(frozen=True)
class ToolCall:
    """What the model chose: one tool and its raw input (not yet validated)."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class LedgerEntry:
    tier: str
    model: str
    input_tokens: int
    output_tokens: int
    usd: float
    cached: bool
    latency_ms: int
    prices_date: str = PRICES_DATE

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usd": self.usd,
            "cached": self.cached,
            "latency_ms": self.latency_ms,
            "prices_date": self.prices_date,
        }


@dataclass(frozen=True)
class LlmAnswer:
    call: ToolCall | None
    ledger: list[LedgerEntry]


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    price_in, price_out = PRICES_PER_MTOK.get(model, PRICIEST)  # an unknown model is priced as the priciest
    return (price_in * input_tokens + price_out * output_tokens) / Decimal(1_000_000)


def estimate_tokens(*parts: Any) -> int:
    """A deliberately generous estimate for reserving budget before a call: about 3 characters a token,
    times the largest documented tokenizer factor of the models we route to (see switchboard.claude)."""
    return claude.estimate_tokens(*parts)


class Budget:
    """The spending policy over a ``BudgetLedger``: tokens per task, micro-dollars per UTC day, each capped.

    ``reserve`` adds the call's worst case to both counters, or refuses it (``BudgetExceeded``) when either
    would pass its cap, before the call; ``settle`` corrects both by the real usage afterwards.
    """

    def __init__(self, ledger: BudgetLedger, config: LlmConfig, clock: Clock = time.time) -> None:
        self.ledger = ledger
        self.config = config
        self.clock = clock

    def day(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    def reserve(self, task_id: str, tokens: int, micro_usd: int) -> None:
        self.ledger.reserve(
            task_id,
            self.day(),
            tokens,
            micro_usd,
            token_cap=self.config.task_token_cap,
            micro_usd_cap=int(self.config.daily_usd_cap * 1_000_000),
        )

    def settle(self, task_id: str, reserved_tokens: int, reserved_micro_usd: int, entry: LedgerEntry) -> None:
        used_tokens = entry.input_tokens + entry.output_tokens
        used_micro = int(Decimal(str(entry.usd)) * 1_000_000)
        self.ledger.settle(
            task_id, self.day(), used_tokens - reserved_tokens, used_micro - reserved_micro_usd
        )

    def spent_today_usd(self) -> float:
        return self.ledger.spent_micro_usd(self.day()) / 1_000_000


class ResponseCache:
    """Same model, prompt and tools within the TTL: the cached tool call, without a model call."""

    def __init__(self, store: LlmCache, ttl_seconds: int) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(request: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> ToolCall | None:
        data = self.store.get(key)
        return ToolCall(data["name"], data["input"]) if data is not None else None

    def put(self, key: str, call: ToolCall) -> None:
        self.store.put(key, {"name": call.name, "input": call.input}, self.ttl_seconds)


class BudgetedLlm:
    # Set per invocation (Deadline.from_context(context)) by a handler whose calls must not outlive it; None:
    # the SDK's own retries and the tier timeouts, as before.
    deadline: Deadline | None = None

    def __init__(
        self,
        config: LlmConfig,
        budget: Budget,
        cache: ResponseCache,
        api_key: Callable[[], str],
        base_url: str,
        sdk: Any = None,
    ) -> None:
        self.config = config
        self.budget = budget
        self.cache = cache
        self.api_key = api_key
        self.base_url = base_url
        self._sdk = sdk

    def sdk(self) -> Any:
        if self._sdk is None:
            import anthropic  # lazily: ~1 s and ~75 MB, paid only by a function that asks a model

            self._sdk = anthropic.Anthropic(
                api_key=self.api_key(), base_url=self.base_url, max_retries=self.config.max_retries
            )
        return self._sdk

    def choose_tool(
        self,
        *,
        task_id: str,
        tier: str,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int = 512,
        use_cache: bool = True,
        fallback: bool = True,
        purpose: str | None = None,
    ) -> LlmAnswer:
        """Ask ``tier`` to choose exactly one of ``tools``. Falls back one tier on transient errors and on a
        refusal. ``purpose`` ("classify" or "decide") sets effort and thinking room; ``max_tokens`` is the
        answer's own budget. Without ``purpose`` it is read from ``max_tokens`` (classify asks for 200)."""
        purpose = purpose or claude.purpose_for(max_tokens)
        ledger: list[LedgerEntry] = []
        try:
            call = self._call(task_id, tier, system, messages, tools, max_tokens, use_cache, ledger, purpose)
        except (ModelUnavailable, ModelDeclined) as exc:
            if not fallback or (isinstance(exc, ModelDeclined) and exc.stop_reason != "refusal"):
                raise
            backup = FALLBACK[tier]
            logger.warning(
                "model tier unavailable, falling back", tier=tier, fallback=backup, task_id=task_id
            )
            call = self._call(
                task_id, backup, system, messages, tools, max_tokens, use_cache, ledger, purpose
            )
        return LlmAnswer(call, ledger)

    def _call(
        self,
        task_id: str,
        tier: str,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        use_cache: bool,
        ledger: list[LedgerEntry],
        purpose: str = "decide",
    ) -> ToolCall | None:
        model = self.config.tiers[tier]
        worst_output = claude.contract(model).max_tokens(purpose, max_tokens)  # thinking counts against it
        request = {"model": model, "system": system, "messages": messages, "tools": tools}
        key = self.cache.key(request)
        if use_cache and (hit := self.cache.get(key)) is not None:
            ledger.append(LedgerEntry(tier, model, 0, 0, 0.0, cached=True, latency_ms=0))
            return hit
        reserved_tokens = estimate_tokens(system, messages, tools) + worst_output
        reserved_micro = int(cost_usd(model, reserved_tokens, worst_output) * 1_000_000) + 1
        self.budget.reserve(task_id, reserved_tokens, reserved_micro)
        started = time.monotonic()
        try:
            response = self._create(tier, model, system, messages, tools, max_tokens, purpose)
        except BaseException:
            self.budget.settle(
                task_id, reserved_tokens, reserved_micro, LedgerEntry(tier, model, 0, 0, 0, False, 0)
            )
            raise
        usage = response.usage
        entry = LedgerEntry(
            tier=tier,
            model=model,
            input_tokens=int(usage.input_tokens),
            output_tokens=int(usage.output_tokens),
            usd=float(cost_usd(model, int(usage.input_tokens), int(usage.output_tokens))),
            cached=False,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        ledger.append(entry)
        self.budget.settle(task_id, reserved_tokens, reserved_micro, entry)
        answer = claude.read_answer(response)  # by block type: thinking blocks may come first
        if answer.declined is not None:
            raise ModelDeclined(f"{tier}: {answer.declined}", answer.stop_reason)
        call = ToolCall(*answer.tool) if answer.tool is not None else None
        if call is not None and use_cache:
            self.cache.put(key, call)
        return call

    def _create(
        self,
        tier: str,
        model: str,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        purpose: str = "decide",
    ) -> Any:
        import anthropic

        request = claude.build_request(model, purpose, system, messages, tools, max_tokens)
        if self.deadline is None:
            try:
                return self.sdk().messages.create(**request, timeout=TIMEOUTS[tier])
            except (anthropic.APIConnectionError, anthropic.APIStatusError) as exc:
                raise _llm_error(tier, exc) from None
        return self._create_by(self.deadline, tier, request)

    def _create_by(self, deadline: Deadline, tier: str, request: dict[str, Any]) -> Any:
        """The SDK's retries, done here so each attempt and each wait fits in the time left: an attempt's
        timeout is what remains (at most the tier's), and a retry that could not finish is not started."""
        import anthropic

        sdk = self.sdk().with_options(max_retries=0)
        attempt = 0
        while True:
            left = deadline.remaining()
            if left < MIN_CALL_SECONDS:
                raise DeadlineReached(
                    f"{tier}: {left:.1f} s left before the deadline, too little for a model call"
                )
            try:
                return sdk.messages.create(**request, timeout=min(TIMEOUTS[tier], left))
            except (anthropic.APIConnectionError, anthropic.APIStatusError) as exc:
                error = _llm_error(tier, exc)
                wait = _retry_after(exc) or min(0.5 * 2**attempt, 8.0)
                attempt += 1
                if (
                    not isinstance(error, ModelUnavailable)
                    or attempt > self.config.max_retries
                    or deadline.remaining() - wait < MIN_CALL_SECONDS
                ):
                    raise error from None
                time.sleep(wait)


def _llm_error(tier: str, exc: Exception) -> LlmError:
    """Transient (connection, timeout, 429, 5xx): ModelUnavailable; any other status: ModelRefused."""
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 429 or exc.status_code >= 500:
            return ModelUnavailable(f"{tier}: HTTP {exc.status_code}")
        error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        detail = f": {str(error.get('message', ''))[:200]}" if error.get("message") else ""
        return ModelRefused(f"{tier}: HTTP {exc.status_code} {exc.__class__.__name__}{detail}")
    return ModelUnavailable(f"{tier}: {exc.__class__.__name__}")  # APIConnectionError, including timeouts


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    try:
        return float(response.headers["retry-after"]) if response is not None else None
    except (KeyError, ValueError):
        return None


def emit_ledger(entries: list[LedgerEntry]) -> None:
    """LLM calls, tokens and dollars by tier, as EMF metrics: one small blob per tier, dimension ``tier``."""
    from switchboard.metrics import Metric, emit

    for tier in sorted({entry.tier for entry in entries}):
        mine = [entry for entry in entries if entry.tier == tier]
        ledger = {
            Metric.LLM_CALLS: sum(not e.cached for e in mine),
            Metric.LLM_CACHE_HITS: sum(e.cached for e in mine),
            Metric.LLM_INPUT_TOKENS: sum(e.input_tokens for e in mine),
            Metric.LLM_OUTPUT_TOKENS: sum(e.output_tokens for e in mine),
            Metric.LLM_COST_USD: sum(e.usd for e in mine),
        }
        emit(ledger, tier=tier)


def budgeted_llm(settings: LlmMixin, memory_table: str) -> BudgetedLlm:
    """The real client for a function's settings. The key is read from Secrets Manager on first use."""

    def api_key() -> str:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(settings.llm_secret_id, max_age=300)
        return value if isinstance(value, str) else value.decode()

    config = LlmConfig(
        tiers=settings.tiers(),
        task_token_cap=settings.llm_task_token_cap,
        daily_usd_cap=settings.llm_daily_usd_cap,
        cache_ttl_seconds=settings.llm_cache_ttl_seconds,
    )
    from switchboard.dynamo import DynamoBudgetLedger, DynamoLlmCache

    return BudgetedLlm(
        config,
        Budget(DynamoBudgetLedger(memory_table), config),
        ResponseCache(DynamoLlmCache(memory_table), settings.llm_cache_ttl_seconds),
        api_key,
        settings.llm_api_url,
    )
