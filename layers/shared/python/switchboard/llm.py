"""The budgeted LLM client: the only code that holds the Anthropic API key.

Before every call it checks the response cache and reserves the call's worst case against two atomic
counters (tokens for this task, dollars for today; a ``BudgetLedger``, DynamoDB in AWS); over budget, the
call is not made. After the call it settles the counters with the real usage (carried into the next
reservation, not written: one conditional write on the task's counter per call, one on the day's per lease
of ``DAY_LEASE_FRACTION`` of the cap) and returns a ledger entry (tokens in
and out, dollars from a dated price table) that the caller writes to the task history and to metrics. Each
tier has its own timeout; transient errors get the SDK's retries and then one fallback tier. ``anthropic``
is imported lazily, so no function pays for it unless it really asks a model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from switchboard import claude
from switchboard.batches import AwaitingBatch, Resume
from switchboard.deadline import Deadline
from switchboard.dynamo.batches import BatchItem, DynamoBatchStore
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
# [CACHE] in switchboard.claude: 5-minute cache writes cost 1.25x the base input price, cache reads 0.1x;
# [BATCH]: a Message Batches request costs 50 % of the standard price (input, output and cache alike).
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.1")
BATCH_FACTOR = Decimal("0.5")
DEFAULT_TIERS = {"small": "claude-haiku-5-5", "medium": "claude-sonnet-5-5", "large": "claude-opus-5-5"}
FALLBACK = {"small": "medium", "medium": "large", "large": "medium"}
TIMEOUTS = {"small": 10.0, "medium": 20.0, "large": 30.0}
MIN_CALL_SECONDS = 2.0  # less time than this left before the deadline: no new attempt is started
# The longest wait between attempts, whatever the API's retry-after says: a longer wait holds the function
# (and
# its FIFO message group) for nothing, and the next tier is one fallback away.
MAX_RETRY_WAIT = 8.0
# The share of the daily cap that a process reserves from the day's counter at once (``Budget``): 0.2 %, $0.05
# of the default $25, covers tens of small-tier calls or a few of the large tier per write, while the leases
# a day's recycled Lambda containers strand stay small: 50 container lifetimes in a day strand at most 10 %
# of the cap (refused early, never late). Larger leases save few more writes and strand more.
DAY_LEASE_FRACTION = Decimal("0.002")
# Without a deadline (a caller that set none) the attempts of one tier fit in this many seconds.
NO_DEADLINE_SECONDS = 60.0
REAL_API_HOST = "api.anthropic.com"


# The errors are defined in switchboard.errors; classify and decide import them from here as well.
__all__ = [
    "AwaitingBatch",
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
    "ProcessLlmCache",
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
    # Reserve budget by the API's own token counting (messages.count_tokens) instead of the estimate: on when
    # the client talks to the real API with a key (``budgeted_llm``); the stand-in answers it as well.
    count_tokens: bool = False
    # The day's counter is leased in blocks of this share of ``daily_usd_cap`` (0: a write per call).
    day_lease_fraction: Decimal = DAY_LEASE_FRACTION


@dataclass(frozen=True)
class ToolCall:
    """What the model chose: one tool and its raw input (not yet validated)."""

    name: str
    input: dict[str, Any]
    # The assistant turn as received, thinking blocks first, and the tool_use id: a tool result answering this
    # call must send them back unmodified, to the same model ([THINK] in switchboard.claude).
    blocks: tuple[dict[str, Any], ...] = ()
    tool_use_id: str | None = None
    model: str | None = None


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
    cache_write_tokens: int = 0  # prompt-cache writes (usage.cache_creation_input_tokens)
    cache_read_tokens: int = 0  # prompt-cache reads (usage.cache_read_input_tokens)
    batch: bool = False  # answered through the Message Batches API, at half price

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "batch": self.batch,
            "usd": self.usd,
            "cached": self.cached,
            "latency_ms": self.latency_ms,
            "prices_date": self.prices_date,
        }

    @classmethod
    def from_usage(
        cls, tier: str, model: str, usage: Any, latency_ms: int, *, batch: bool = False
    ) -> LedgerEntry:
        """What one answer cost, from its ``usage`` (an SDK object or the JSON of a batch result)."""

        def get(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            return int(value or 0)

        tokens_in, tokens_out = get("input_tokens"), get("output_tokens")
        write, read = get("cache_creation_input_tokens"), get("cache_read_input_tokens")
        usd = cost_usd(model, tokens_in, tokens_out, cache_write=write, cache_read=read, batch=batch)
        usd = usd.quantize(Decimal("0.000001"))  # whole micro-dollars: what the budget counters add up
        return cls(
            tier, model, tokens_in, tokens_out, float(usd), False, latency_ms, PRICES_DATE, write, read, batch
        )


@dataclass(frozen=True)
class LlmAnswer:
    call: ToolCall | None
    ledger: list[LedgerEntry]


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_write: int = 0,
    cache_read: int = 0,
    batch: bool = False,
) -> Decimal:
    """Dollars for one answer: ``input_tokens`` are the uncached ones (the API reports cache writes and reads
    apart), each priced at its multiplier; a batch answer at half of all of it."""
    price_in, price_out = PRICES_PER_MTOK.get(model, PRICIEST)  # an unknown model is priced as the priciest
    cached_in = cache_write * CACHE_WRITE_FACTOR + cache_read * CACHE_READ_FACTOR
    usd = (price_in * (input_tokens + cached_in) + price_out * output_tokens) / Decimal(1_000_000)
    return usd * BATCH_FACTOR if batch else usd


def estimate_tokens(*parts: Any) -> int:
    """A deliberately generous estimate for reserving budget before a call: about 3 characters a token,
    times the largest documented tokenizer factor of the models we route to (see switchboard.claude)."""
    return claude.estimate_tokens(*parts)


class Budget:
    """The spending policy over a ``BudgetLedger``: tokens per task, micro-dollars per UTC day, each capped.

    ``reserve`` adds the call's worst case to both counters, or refuses it (``BudgetExceeded``) when either
    would pass its cap, before the call; ``settle`` corrects both by the real usage afterwards.

    One write per call on the task's counter and a small fraction of one on the day's, none per settlement:
    the ledger carries each settlement into the counter's next reservation from this process. The day's
    counter is the one every worker shares: each process leases a block of it (``day_lease_fraction`` of
    the cap, at least the call's worst case) with a conditional ``ADD`` and takes its calls from the block
    without a write until the block cannot cover the next one; a settled call's remainder goes back into
    the block. Near the cap a block that does not fit is cut to what the call needs, so a call is refused
    exactly when it does not fit. The stored day counter never passes the cap and never counts less than
    was spent; it counts more by the unspent leases of the processes that held one that day (a process that
    ends strands its lease: refusing early, never late). The task's counter keeps its own write per
    call rather than riding on the lifecycle's task writes, because those come after the call: a task
    redelivered after a crash between the call and its next move must still see what it spent. Carrying
    costs the task counter the over-reservation of each stage's last call (classify's, then decide's):
    a few thousand tokens of the 20,000 cap, within which the corpus's routes are unchanged. A transaction
    of the two would be no cheaper (two write units per item).
    """

    def __init__(self, ledger: BudgetLedger, config: LlmConfig, clock: Clock = time.time) -> None:
        self.ledger = ledger
        self.config = config
        self.clock = clock

    def day(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    def reserve(self, task_id: str, tokens: int, micro_usd: int) -> None:
        cap = int(self.config.daily_usd_cap * 1_000_000)
        self.ledger.reserve(
            task_id,
            self.day(),
            tokens,
            micro_usd,
            token_cap=self.config.task_token_cap,
            micro_usd_cap=cap,
            lease_micro_usd=int(cap * self.config.day_lease_fraction),
        )

    def settle(self, task_id: str, reserved_tokens: int, reserved_micro_usd: int, entry: LedgerEntry) -> None:
        used_tokens = (
            entry.input_tokens + entry.cache_write_tokens + entry.cache_read_tokens + entry.output_tokens
        )
        used_micro = int(Decimal(str(entry.usd)) * 1_000_000)
        self.ledger.settle(
            task_id, self.day(), used_tokens - reserved_tokens, used_micro - reserved_micro_usd
        )

    def spent_today_usd(self) -> float:
        """Today's counter less this process's unspent lease: other processes' unspent leases count."""
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
        if data is None or "name" not in data:
            return None
        blocks = tuple(data.get("blocks") or ())
        return ToolCall(data["name"], data["input"], blocks, data.get("tool_use_id"), data.get("model"))

    def put(self, key: str, call: ToolCall) -> None:
        value: dict[str, Any] = {"name": call.name, "input": call.input, "blocks": list(call.blocks)}
        value |= {"tool_use_id": call.tool_use_id, "model": call.model}
        self.store.put(key, value, self.ttl_seconds)


class ProcessLlmCache:
    """``LlmCache`` in this process: the warm container's own, at most ``max_entries`` tool calls (the least
    recently used goes first), each until its TTL is over, as the shared one. A hit costs no request.

    Behind it, ``shared`` (the DynamoDB cache, ``switchboard.dynamo.DynamoLlmCache``) when a setting asks for
    it (``llm_cache_shared``): a miss here then asks it (its hit is not copied here: its expiry is not
    known), and a put writes both. Off (the default), the cache spends no AWS request: on the corpus mix
    through the local runtime the shared cache cost a read and a write per model call (2.24 requests per
    event) for a 0 % hit rate. A prompt is the platform, the event type and the text, so what repeats is the
    same short text on another issue, and a classification retried after a crash."""

    def __init__(
        self, max_entries: int = 512, shared: LlmCache | None = None, clock: Clock = time.time
    ) -> None:
        self.max_entries = max_entries
        self.shared = shared
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()  # key → (expires at, JSON)

    def get(self, key: str) -> dict[str, Any] | None:
        kept = self._entries.get(key)
        if kept is not None and kept[0] >= self.clock():
            self._entries.move_to_end(key)
            value: dict[str, Any] = json.loads(kept[1])  # a copy: a caller cannot change what is kept
            return value
        if kept is not None:
            del self._entries[key]
        return self.shared.get(key) if self.shared is not None else None

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        self._entries[key] = (int(self.clock()) + ttl_seconds, json.dumps(value))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        if self.shared is not None:
            self.shared.put(key, value, ttl_seconds)


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
        batches: DynamoBatchStore | None = None,
    ) -> None:
        self.config = config
        self.budget = budget
        self.cache = cache
        self.api_key = api_key
        self.base_url = base_url
        self._sdk = sdk
        self.batches = batches  # where deferred requests wait for the Message Batches API (None: never)

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
        replay_of: ToolCall | None = None,
        defer: Resume | None = None,
    ) -> LlmAnswer:
        """Ask ``tier`` to choose exactly one of ``tools``. Falls back one tier on transient errors and on a
        refusal. ``purpose`` ("classify" or "decide") sets effort and thinking room; ``max_tokens`` is the
        answer's own budget. Without ``purpose`` it is read from ``max_tokens`` (classify asks for 200).
        ``replay_of``: the call the conversation answers (a repair), asked of the tier whose model made it.
        ``defer``: the work can wait; unless its batch already answered, the request joins the next Message
        Batch and ``AwaitingBatch`` is raised (``switchboard.batches``)."""
        purpose = purpose or claude.purpose_for(max_tokens)
        if replay_of is not None:  # the conversation carries this call's thinking blocks: back to its model
            tier = self.tier_of(replay_of.model, tier)
        ledger: list[LedgerEntry] = []
        try:
            call = self._call(
                task_id, tier, system, messages, tools, max_tokens, use_cache, ledger, purpose, defer
            )
        except (ModelUnavailable, ModelDeclined) as exc:
            if not fallback or (isinstance(exc, ModelDeclined) and exc.stop_reason != "refusal"):
                raise
            backup = FALLBACK[tier]
            logger.warning(
                "model tier unavailable, falling back", tier=tier, fallback=backup, task_id=task_id
            )
            call = self._call(
                task_id, backup, system, messages, tools, max_tokens, use_cache, ledger, purpose, defer
            )
        return LlmAnswer(call, ledger)

    def tier_of(self, model: str | None, default: str) -> str:
        """The tier that routes to ``model`` (a repair goes back to the model that answered), else default."""
        return next((tier for tier, name in self.config.tiers.items() if name == model), default)

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
        defer: Resume | None = None,
    ) -> ToolCall | None:
        model = self.config.tiers[tier]
        worst_output = claude.contract(model).max_tokens(purpose, max_tokens)  # thinking counts against it
        key = self.cache.key({"model": model, "system": system, "messages": messages, "tools": tools})
        if use_cache and (hit := self.cache.get(key)) is not None:
            ledger.append(LedgerEntry(tier, model, 0, 0, 0.0, cached=True, latency_ms=0))
            return hit
        request = claude.build_request(model, purpose, system, messages, tools, max_tokens)
        batched = defer is not None and self.batches is not None
        if batched and (stored := self.batches.answer(key)) is not None:  # type: ignore[union-attr]
            if stored["result"].get("type") == "succeeded":
                return self._from_batch(task_id, tier, model, key, stored, use_cache, ledger)
            self._give_back(task_id, tier, model, key, stored)  # errored or expired: the call is made live
            batched = False
        reserved_tokens = self._input_tokens(request) + worst_output
        # the worst case: every input token written to the prompt cache (1.25x), all the output spent
        reserved_micro = int(cost_usd(model, 0, worst_output, cache_write=reserved_tokens) * 1_000_000) + 1
        self.budget.reserve(task_id, reserved_tokens, reserved_micro)
        if batched:
            assert self.batches is not None and defer is not None
            item = BatchItem(key, request, task_id, tier, reserved_tokens, reserved_micro, defer.to_json())
            if not self.batches.defer(item):  # already waiting: this reservation is not needed
                self.budget.settle(
                    task_id, reserved_tokens, reserved_micro, LedgerEntry(tier, model, 0, 0, 0, False, 0)
                )
            raise AwaitingBatch(f"{tier}: the request waits for the next Message Batch")
        started = time.monotonic()
        try:
            response = self._create(tier, request)
        except BaseException:
            self.budget.settle(
                task_id, reserved_tokens, reserved_micro, LedgerEntry(tier, model, 0, 0, 0, False, 0)
            )
            raise
        entry = LedgerEntry.from_usage(tier, model, response.usage, int((time.monotonic() - started) * 1000))
        ledger.append(entry)
        self.budget.settle(task_id, reserved_tokens, reserved_micro, entry)
        answer = claude.read_answer(response)  # by block type: thinking blocks may come first
        if answer.declined is not None:
            raise ModelDeclined(f"{tier}: {answer.declined}", answer.stop_reason)
        call = (
            ToolCall(*answer.tool, blocks=answer.blocks, tool_use_id=answer.tool_use_id, model=model)
            if answer.tool is not None
            else None
        )
        if call is not None and use_cache:
            self.cache.put(key, call)
        return call

    def _from_batch(
        self,
        task_id: str,
        tier: str,
        model: str,
        key: str,
        stored: dict[str, Any],
        use_cache: bool,
        ledger: list[LedgerEntry],
    ) -> ToolCall | None:
        """The batch's answer, at half price, settled against the reservation made when it was deferred."""
        assert self.batches is not None
        item, message = stored["item"], stored["result"]["message"]
        entry = LedgerEntry.from_usage(tier, model, message["usage"], 0, batch=True)
        ledger.append(entry)
        self.budget.settle(task_id, item["reserved_tokens"], item["reserved_micro_usd"], entry)
        self.batches.picked_up(key)
        answer = claude.read_answer(message)
        if answer.declined is not None:
            raise ModelDeclined(f"{tier}: {answer.declined}", answer.stop_reason)
        if answer.tool is None:
            return None
        call = ToolCall(*answer.tool, blocks=answer.blocks, tool_use_id=answer.tool_use_id, model=model)
        if use_cache:
            self.cache.put(key, call)
        return call

    def _give_back(self, task_id: str, tier: str, model: str, key: str, stored: dict[str, Any]) -> None:
        assert self.batches is not None
        item = stored["item"]
        logger.warning("batch request not answered, calling live", task_id=task_id, result=stored["result"])
        self.budget.settle(
            task_id,
            item["reserved_tokens"],
            item["reserved_micro_usd"],
            LedgerEntry(tier, model, 0, 0, 0, False, 0),
        )
        self.batches.picked_up(key)

    def _input_tokens(self, request: dict[str, Any]) -> int:
        """The prompt's tokens for the reservation: the API's own count (``messages.count_tokens``, free, and
        counted by the model's tokenizer) where configured, else the generous estimate. A failed count falls
        back to the estimate rather than failing the call."""
        estimate = estimate_tokens(request["system"], request["messages"], request["tools"])
        if not self.config.count_tokens:
            return estimate
        import anthropic

        try:
            counted = self.sdk().messages.count_tokens(
                model=request["model"],
                system=request["system"],
                messages=request["messages"],
                tools=request["tools"],
                timeout=MIN_CALL_SECONDS,
            )
        except (anthropic.APIConnectionError, anthropic.APIStatusError) as exc:
            logger.warning("token count failed, reserving by the estimate", error=exc.__class__.__name__)
            return estimate
        return int(counted.input_tokens)

    def _create(self, tier: str, request: dict[str, Any]) -> Any:
        """The SDK's retries, done here so each attempt and each wait fits in the time left: an attempt's
        timeout is what remains (at most the tier's), a retry that could not finish is not started, and a
        retry-after longer than ``MAX_RETRY_WAIT`` is cut to it. Without a deadline the tier's attempts fit in
        ``NO_DEADLINE_SECONDS``."""
        import anthropic

        deadline = self.deadline or Deadline.after(NO_DEADLINE_SECONDS)
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
                wait = min(_retry_after(exc) or 0.5 * 2**attempt, MAX_RETRY_WAIT)
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
        from switchboard.aws import secrets  # the shared session's client

        return secrets().text(settings.llm_secret_id, max_age=300)

    config = LlmConfig(
        tiers=settings.tiers(),
        task_token_cap=settings.llm_task_token_cap,
        daily_usd_cap=settings.llm_daily_usd_cap,
        cache_ttl_seconds=settings.llm_cache_ttl_seconds,
        count_tokens=REAL_API_HOST in settings.llm_api_url,  # the real API, where the key is a real one
    )
    from switchboard.dynamo import DynamoBudgetLedger, DynamoLlmCache

    shared = DynamoLlmCache(memory_table) if settings.llm_cache_shared else None
    return BudgetedLlm(
        config,
        Budget(DynamoBudgetLedger(memory_table), config),
        ResponseCache(ProcessLlmCache(shared=shared), settings.llm_cache_ttl_seconds),
        api_key,
        settings.llm_api_url,
        batches=DynamoBatchStore(memory_table) if settings.llm_batches else None,
    )
