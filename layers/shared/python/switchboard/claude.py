"""The Claude Messages API as Anthropic documents it, per model: what a request may carry, how one is built,
and how an answer is read.

One dated contract table (``CONTRACTS``) says, for each model id we route to, which ``tool_choice`` types
and ``thinking`` types the API accepts, which request parameters it answers with a 400, whether an
assistant prefill is accepted, the ``effort`` we send per purpose, and the tokenizer factor our estimates
use. Every rule cites the page it comes from. ``build_request`` turns a purpose (``classify`` or
``decide``) into the keyword arguments of ``messages.create`` that follow the table; ``violations`` is the
same table read as a validator, which the local Messages API stand-in answers with (so the client and the
stand-in cannot drift apart); ``read_answer`` selects content blocks by type and turns ``refusal`` and a
``max_tokens`` stop without a tool call into a reason.

Import-light on purpose: no ``anthropic`` import here (it works on SDK objects and on plain dicts alike).

Sources, read 2026-12-01 from stored copies of Anthropic's platform docs (the stored copies show no
"last updated" date; the model release dates are from third-party coverage of the launches):
- [S55] "What's new in Claude Sonnet 5.5",
  https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5 (model released 2026-09-28).
- [O55] "What's new in Claude Opus 5.5", https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5,
  and "Claude Opus 5.5 migration guide", https://platform.claude.com/docs/en/models/opus-5-5/migration-guide
  (model released 2026-09-22).
- [H55] "What's new in Claude Haiku 5.5", https://platform.claude.com/docs/en/models/haiku-5-5/whats-new-haiku-5-5,
  and "Claude Haiku 5.5 migration guide", https://platform.claude.com/docs/en/models/haiku-5-5/migration-guide.
- [STOP] "Stop reasons and fallback", https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons.
- [ERR] "Claude API errors", https://platform.claude.com/docs/en/api/errors.
- [O5] "What's new in Claude Opus 5", https://platform.claude.com/docs/en/about-claude/models/whats-new-opus-5
  ("max_tokens is a hard limit on total output: thinking plus response text").

Read 2026-12-02 (stored copies, no "last updated" date shown):
- [EFF] "Effort", https://platform.claude.com/docs/en/build-with-claude/effort: "Set
  output_config.effort on the request. With no value, the model's default level applies"; "Most Claude
  models default to high effort ...; Claude Opus 5.5 and Claude Haiku 5.5 default to medium."
- [CACHE] "Prompt caching", https://platform.claude.com/docs/en/build-with-claude/prompt-caching:
  cache_control on a block caches the prefix up to it, in the order tools, system, messages; at most 4
  breakpoints; 5-minute cache writes cost 1.25x the base input price, 1-hour writes 2x, cache reads 0.1x;
  a prefix shorter than the model's minimum is not cached and the request still succeeds. Per-model minimums
  for the 5.5 models are not on the stored official copy; Sonnet 5.5's 512 tokens is from third-party
  coverage (apidog, "Claude Sonnet 5.5 vs Sonnet 5", 2026-09), Opus 5's 512 from third-party coverage
  (dev.to, "Claude's prompt cache fails silently below 1,024 tokens"); for Haiku 5.5 we found none and use
  Haiku 4.5's documented 4,096.
- [STRICT] "Strict tool use",
  https://platform.claude.com/docs/en/agents-and-tools/tool-use/strict-tool-use, and
  "Structured outputs" (#json-schema-limitations, #how-sdk-transformation-works),
  https://platform.claude.com/docs/en/build-with-claude/structured-outputs: strict: true constrains the tool
  input to the schema by grammar-constrained sampling, for the supported subset of JSON Schema only: every
  object needs additionalProperties false, and string constraints (minLength, maxLength, pattern), numeric
  constraints (minimum, maximum, multipleOf ...) and minItems above 1 are not supported (the SDK's
  transform_schema moves them into the description; code must still check them).
- [THINK] "Thinking in tool and multi-turn workflows",
  https://platform.claude.com/docs/build-with-claude/thinking-tool-workflows: "Pass thinking blocks back
  complete and unmodified: when you return a tool result, the thinking blocks from the assistant message must
  come back with it"; "Echo the assistant message exactly as received"; [S55] "Thinking blocks are tied to the
  model and the conversation".
- [BATCH] "Batch processing", https://platform.claude.com/docs/en/build-with-claude/batch-processing, and the
  API reference "Create / Retrieve a Message Batch", "Retrieve Message Batch results": 50 % of the standard
  price; a batch ends when every request succeeded, errored, was canceled or expired, at most 24 hours after
  creation (expires_at); results are JSONL, one {custom_id, result} line per request; each request's params
  are
  validated asynchronously (an invalid one comes back errored, not as a 400 on create).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTRACT_DATE = "2026-12-01"  # the day the pages above were read

PURPOSES = ("classify", "decide")
EFFORTS = ("low", "medium", "high", "xhigh", "max")  # [S55]: "the same levels, low to max"
FORCED_TOOL_CHOICES = frozenset({"any", "tool"})
SAMPLING = ("temperature", "top_p", "top_k")

# Tokens a thinking model may spend before it writes the tool call, per effort. The docs give no figure; they
# say only that thinking counts against max_tokens ([H55] "thinking tokens count toward them"; [O5]), so the
# request adds this much room on top of the answer's own budget.
THINKING_HEADROOM = {"low": 1_024, "medium": 2_048, "high": 4_096, "xhigh": 8_192, "max": 16_384}

# Tokens per character our estimates assume for the old tokenizer (generous: about 3 characters a token).
CHARS_PER_TOKEN = 3


@dataclass(frozen=True)
class ModelContract:
    """What the docs say a request to one model may carry. Every field cites its page in CONTRACTS below."""

    model: str
    tool_choices: frozenset[str]  # tool_choice.type values the API accepts
    thinking: str  # "always" (cannot be turned off) or "default" (on unless the request changes it)
    thinking_types: frozenset[str]  # thinking.type values the API accepts ("adaptive" = omitting the field)
    default_effort: str | None  # the API's effort when the request sets none (None: not documented)
    prefill: bool  # False: a final assistant turn is answered with a 400
    sampling: bool  # False: temperature / top_p / top_k (other than the defaults) are answered with a 400
    tokenizer_factor: float  # tokens for the same text, relative to the old (Claude 4.5-era) tokenizer
    effort: Mapping[str, str] = field(default_factory=dict)  # what we send per purpose (our choice)
    # The thinking field we send per purpose (our choice; None: omit it, adaptive thinking as by default).
    thinking_sent: Mapping[str, str | None] = field(default_factory=dict)
    cache_min_tokens: int = 4_096  # [CACHE]: a shorter prefix is not cached (no error)

    def max_tokens(self, purpose: str, answer_tokens: int) -> int:
        """The answer's own budget plus room for the thinking that comes before it (a little when up-front
        thinking is off: between_tools thinks only between tool calls, and we make one)."""
        if self.thinking_sent.get(purpose) == "between_tools":
            return answer_tokens + THINKING_HEADROOM["low"] // 4
        return answer_tokens + THINKING_HEADROOM[self.effort[purpose]]


CONTRACTS: dict[str, ModelContract] = {
    # [H55] summary table: adaptive thinking and effort are new ("Optional: set effort"); "Existing max_tokens
    # values stay valid, but thinking tokens count toward them"; "Manual extended thinking returns an error:
    # replace budget_tokens with adaptive thinking"; "Non-default sampling parameters return an error: omit
    # temperature, top_p and top_k"; "Assistant message prefill returns an error: end messages with a user
    # turn"; "Responses may start with thinking blocks: select content blocks by type"; "Handle
    # stop_reason: refusal" (server-side fallback is not available on this model). Tokenizer: "the same newer
    # tokenizer as Claude 4.7 and later models, so the same text counts as approximately 30% more tokens than
    # on Claude Haiku 4.5". Forced tool use is NOT among Haiku 5.5's breaking changes, so any/tool stay
    # accepted; we still send auto (see build_request). Whether thinking can be disabled and the default
    # effort are not on the pages we found: not enforced. [EFF]: its default effort is medium; we send low for
    # both purposes (a triage label and one tool choice need little thinking).
    "claude-haiku-5-5": ModelContract(
        model="claude-haiku-5-5",
        tool_choices=frozenset({"auto", "any", "tool", "none"}),
        thinking="default",
        thinking_types=frozenset({"adaptive", "disabled"}),
        default_effort="medium",
        prefill=False,
        sampling=False,
        tokenizer_factor=1.3,
        effort={"classify": "low", "decide": "low"},
        thinking_sent={"classify": None, "decide": None},
        cache_min_tokens=4_096,
    ),
    # [S55]: "Forced tool use returns an error"; "Adaptive thinking is on by default, and the effort parameter
    # controls thinking depth. Its default on the Claude API is high"; thinking: {"type": "disabled"}
    # "returns 400 invalid_request_error, its message pointing to between_tools", the lowest setting being
    # {"type": "between_tools"}, accepted at effort low, medium and high only ("at xhigh or max, a request
    # with between_tools returns a 400"). "The tokenizer is the same as Claude Sonnet 5's" (which [H55]
    # counts among "Claude 4.7 and later models": the newer tokenizer, about 30 % more tokens).
    # "enabled" (budget_tokens) is listed as not accepted only in third-party coverage (apidog, "Sonnet 5.5
    # vs Sonnet 5": accepted thinking.type adaptive, between_tools); the official excerpt does not say.
    # Sampling parameters and prefill are rejected on all three 5.5 models per third-party coverage only
    # (OpenRouter "Claude 5.5" migration cookbook); not confirmed on the official Sonnet page: not enforced.
    "claude-sonnet-5-5": ModelContract(
        model="claude-sonnet-5-5",
        tool_choices=frozenset({"auto", "none"}),
        thinking="default",
        thinking_types=frozenset({"adaptive", "between_tools"}),
        default_effort="high",
        prefill=True,
        sampling=True,
        tokenizer_factor=1.3,
        # decide chooses one tool from a short list: effort low and no up-front thinking ([S55]: between_tools
        # is "the lowest thinking setting", accepted at low, medium and high). Its default would be high.
        effort={"classify": "low", "decide": "low"},
        thinking_sent={"classify": None, "decide": "between_tools"},
        cache_min_tokens=512,
    ),
    # [O55]: "Adaptive thinking is always on, and the effort parameter controls thinking depth; its default on
    # this model is medium"; "Forced tool use returns an error"; thinking {"type": "disabled"} or
    # {"type": "enabled", "budget_tokens": N} "returns 400 invalid_request_error. Omit the thinking field, or
    # send the equivalent thinking: {"type": "adaptive"}", with the message '"thinking.type.disabled" is not
    # supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking
    # behavior.' Every response may begin with thinking blocks (empty text at the default display "omitted"):
    # select content blocks by type. Tokenizer: a later model than Claude 4.7 ([H55]), so factor 1.3.
    # Prefill: third-party coverage says it is rejected since Opus 5; not on the stored official excerpts.
    "claude-opus-5-5": ModelContract(
        model="claude-opus-5-5",
        tool_choices=frozenset({"auto", "none"}),
        thinking="always",
        thinking_types=frozenset({"adaptive"}),
        default_effort="medium",
        prefill=True,
        sampling=True,
        tokenizer_factor=1.3,
        effort={
            "classify": "low",
            "decide": "medium",
        },  # the fallback tier: its own default, medium, to decide
        thinking_sent={"classify": None, "decide": None},
        cache_min_tokens=512,
    ),
}

# A model id missing from the table (a tier configured to something else) gets the strictest reading of all
# the rules above, so a request that passes it passes everywhere we know of.
STRICTEST = ModelContract(
    model="*",
    tool_choices=frozenset({"auto", "none"}),
    thinking="always",
    thinking_types=frozenset({"adaptive"}),
    default_effort=None,
    prefill=False,
    sampling=False,
    tokenizer_factor=1.3,
    effort={"classify": "low", "decide": "medium"},
)

MAX_TOKENIZER_FACTOR = max(contract.tokenizer_factor for contract in CONTRACTS.values())

# Appended to the system prompt where tool use cannot be forced: with tool_choice auto the model may answer
# in text, so it is told to call a tool (a text-only answer reads as "no tool call", which callers handle).
CALL_ONE_TOOL = "Always answer by calling exactly one of the provided tools; never answer in plain text."


def contract(model: str) -> ModelContract:
    return CONTRACTS.get(model, STRICTEST)


def purpose_for(max_tokens: int) -> str:
    """Until classify and decide pass ``purpose``: their answer budgets are 200 and 512 tokens."""
    return "classify" if max_tokens <= 256 else "decide"


def build_request(
    model: str,
    purpose: str,
    system: str,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]],
    answer_tokens: int,
) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for one tool-choosing call, following the table.

    - ``tool_choice`` is ``auto`` on every model: forced tool use is a 400 on Sonnet 5.5 and Opus 5.5 ([S55],
      [O55]), and auto is valid everywhere; the system prompt asks for exactly one tool call instead, and
      every
      tool is ``strict`` ([STRICT]), its schema reduced to the supported subset (the dropped constraints are
      written into the description, and our code validates the input against the full schema afterwards).
    - ``thinking`` as the table says per purpose (omitted: adaptive, the documented default on all three), and
      ``output_config.effort`` set per model and purpose ([EFF]).
    - ``max_tokens`` leaves room for thinking, which counts against it ([H55], [O5]).
    - The tools and system prefix carries ``cache_control`` when it is at least the model's minimum cacheable
      length ([CACHE]); below it the marker would be ignored, so it is not sent.
    - No sampling parameters and no assistant prefill: a final assistant turn is refused here, before a call.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    rules = contract(model)
    if messages and messages[-1].get("role") == "assistant":
        raise ValueError("the conversation must end with a user turn (assistant prefill)")
    strict_tools = [strict_tool(tool) for tool in tools]
    text = f"{system}\n\n{CALL_ONE_TOOL}" if system else CALL_ONE_TOOL
    system_block: dict[str, Any] = {"type": "text", "text": text}
    if prefix_tokens(model, strict_tools, text) >= rules.cache_min_tokens:
        system_block["cache_control"] = {"type": "ephemeral"}  # caches tools + system ([CACHE]: that order)
    request: dict[str, Any] = {
        "model": model,
        "system": [system_block],
        "messages": list(messages),
        "tools": strict_tools,
        "tool_choice": {"type": "auto"},
        "max_tokens": rules.max_tokens(purpose, answer_tokens),
        "output_config": {"effort": rules.effort[purpose]},
    }
    thinking = rules.thinking_sent.get(purpose)
    if thinking is not None:
        request["thinking"] = {"type": thinking}
    return request


def prefix_tokens(model: str, tools: Sequence[Mapping[str, Any]], system: str) -> int:
    """The tools and system prefix in tokens, as the API counts them (the stand-in counts the same way)."""
    return count_tokens([system, list(tools)], model)


def count_tokens(value: Any, model: str | None) -> int:
    """About 4 characters a token on the old tokenizer, times the model's documented tokenizer factor: how the
    local stand-in counts, and close to what the API's count_tokens answers for our JSON-heavy prompts."""
    factor = contract(model).tokenizer_factor if model else 1.0
    return max(1, int(len(json.dumps(value, ensure_ascii=False)) * factor) // 4)


# [STRICT]: the JSON Schema keywords a strict tool may not use (validated in code instead).
STRICT_UNSUPPORTED = frozenset(
    {
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    }
)


def strict_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The tool with ``strict: true`` and its schema in the supported subset ([STRICT]): unsupported
    constraints move into the description (as the SDK's ``transform_schema`` does), objects get
    ``additionalProperties: false``."""
    return {**tool, "strict": True, "input_schema": _strict_schema(tool.get("input_schema") or {})}


def _strict_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in schema.items():
        if key in STRICT_UNSUPPORTED or (key == "minItems" and isinstance(value, int) and value > 1):
            moved[key] = value
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {name: _strict_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "allOf", "additionalProperties") and not isinstance(value, bool):
            out[key] = _strict_schema(value)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
    if moved:
        note = ", ".join(f"{key}: {json.dumps(value)}" for key, value in moved.items())
        out["description"] = f"{out['description']} ({note})" if out.get("description") else f"({note})"
    return out


def strict_schema_problems(schema: Any, path: str = "input_schema") -> list[str]:
    """Where a strict tool's schema leaves the supported subset ([STRICT]); empty: accepted."""
    problems: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            problems += strict_schema_problems(item, f"{path}.{index}")
        return problems
    if not isinstance(schema, Mapping):
        return problems
    for key, value in schema.items():
        if key in STRICT_UNSUPPORTED or (key == "minItems" and isinstance(value, int) and value > 1):
            problems.append(f"{path}: '{key}' is not supported in strict mode")
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            for name, sub in value.items():
                problems += strict_schema_problems(sub, f"{path}.{key}.{name}")
        elif key in ("items", "anyOf", "allOf") or (
            key == "additionalProperties" and isinstance(value, Mapping)
        ):
            problems += strict_schema_problems(value, f"{path}.{key}")
    if (schema.get("type") == "object" or "properties" in schema) and schema.get(
        "additionalProperties"
    ) is not False:
        problems.append(f"{path}: 'additionalProperties' must be explicitly set to false for objects")
    return problems


@dataclass(frozen=True)
class Violation:
    """A request the API answers with a 400 invalid_request_error ([ERR]): which rule, in the API's words."""

    param: str
    message: str


def violations(request: Mapping[str, Any]) -> list[Violation]:
    """Every documented rule of ``CONTRACTS`` the request breaks (empty: the API accepts it)."""
    model = str(request.get("model"))
    rules = contract(model)
    found: list[Violation] = []
    choice = request.get("tool_choice") or {}
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind is not None and kind not in rules.tool_choices:
        found.append(
            Violation(
                "tool_choice",
                f'tool_choice.type "{kind}" is not supported for this model: forced tool use returns an '
                'error. Use tool_choice.type "auto".',
            )
        )
    thinking = request.get("thinking")
    if isinstance(thinking, Mapping):
        thinking_type = str(thinking.get("type"))
        if thinking_type not in rules.thinking_types:
            hint = (
                'Use "thinking.type.between_tools" for the lowest thinking setting'
                if "between_tools" in rules.thinking_types
                else 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior'
            )
            found.append(
                Violation(
                    "thinking", f'"thinking.type.{thinking_type}" is not supported for this model. {hint}.'
                )
            )
        effort = (request.get("output_config") or {}).get("effort")
        if thinking_type == "between_tools" and effort in ("xhigh", "max"):
            found.append(
                Violation("thinking", f'"thinking.type.between_tools" is not supported at effort {effort}.')
            )
    effort = (request.get("output_config") or {}).get("effort")
    if effort is not None and effort not in EFFORTS:
        found.append(Violation("output_config.effort", f"effort must be one of {', '.join(EFFORTS)}"))
    if not rules.sampling:
        for name in SAMPLING:
            value = request.get(name)
            if value is not None and not (name == "temperature" and value == 1):
                found.append(Violation(name, f"{name} is not supported for this model; omit it."))
    for index, tool in enumerate(request.get("tools") or []):
        if isinstance(tool, Mapping) and tool.get("strict") is True:
            for problem in strict_schema_problems(tool.get("input_schema"), f"tools.{index}.input_schema"):
                found.append(Violation(f"tools.{index}", problem))
    breakpoints = cache_breakpoints(request)
    if breakpoints > MAX_CACHE_BREAKPOINTS:
        found.append(
            Violation(
                "cache_control",
                f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {breakpoints}.",
            )
        )
    messages = request.get("messages") or []
    if thinks_up_front(request):
        found += _unreplayed_thinking(messages)
    if not rules.prefill and messages and messages[-1].get("role") == "assistant":
        found.append(
            Violation(
                "messages",
                "Prefilling assistant messages is not supported for this model. "
                "The conversation must end with a user turn.",
            )
        )
    return found


MAX_CACHE_BREAKPOINTS = 4  # [CACHE]


def cache_breakpoints(request: Mapping[str, Any]) -> int:
    """How many blocks carry cache_control (tools, system blocks, message content blocks)."""

    def marked(blocks: Any) -> int:
        return (
            sum(isinstance(b, Mapping) and "cache_control" in b for b in blocks)
            if isinstance(blocks, list)
            else 0
        )

    total = marked(request.get("tools")) + marked(request.get("system"))
    return total + sum(
        marked(m.get("content")) for m in request.get("messages") or [] if isinstance(m, Mapping)
    )


def thinks_up_front(request: Mapping[str, Any]) -> bool:
    """Whether the model thinks before its first tool call: adaptive thinking (the default of every model in
    the table), not between_tools ([S55]) and not disabled."""
    if str(request.get("model")) not in CONTRACTS:
        return False
    thinking = request.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else "adaptive"
    return kind in ("adaptive", "enabled")


def _unreplayed_thinking(messages: Sequence[Any]) -> list[Violation]:
    """[THINK]: the last assistant turn that called a tool must come back with its thinking blocks first."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if not any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in blocks):
            return []
        first = blocks[0].get("type") if isinstance(blocks[0], Mapping) else None
        if first in ("thinking", "redacted_thinking"):
            return []
        return [
            Violation(
                f"messages.{index}.content.0.type",
                f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a "
                "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                "recommend you include thinking blocks from previous turns.",
            )
        ]
    return []


def estimate_tokens(*parts: Any, model: str | None = None) -> int:
    """A deliberately generous token estimate for reserving budget before a call.

    About 3 characters a token for the old tokenizer, times the model's documented tokenizer factor (Claude
    4.7 and later count about 30 % more tokens for the same text, [H55]); the largest factor when the model is
    not given.
    """
    factor = contract(model).tokenizer_factor if model else MAX_TOKENIZER_FACTOR
    characters = sum(len(json.dumps(part, default=str, ensure_ascii=False)) for part in parts)
    return int(characters * factor) // CHARS_PER_TOKEN + 16


def _as_dict(block: Any) -> dict[str, Any]:
    """A content block as the JSON the API sent (SDK objects dumped without the fields it left unset)."""
    if isinstance(block, Mapping):
        return dict(block)
    dump = getattr(block, "model_dump", None)
    return dict(dump(mode="json", exclude_none=True)) if dump is not None else {"type": _get(block, "type")}


def _get(block: Any, name: str) -> Any:
    return block.get(name) if isinstance(block, Mapping) else getattr(block, name, None)


@dataclass(frozen=True)
class Answer:
    """What a response says, read by block type: the first tool call, or why there is none."""

    tool: tuple[str, dict[str, Any]] | None
    stop_reason: str | None
    declined: str | None = None  # the reason when the model's answer is unusable (refusal, cut off)
    thinking_blocks: int = 0
    # The assistant turn as received (thinking blocks, signatures, the tool_use and its id), to be sent back
    # unmodified when the tool call is answered ([THINK]).
    blocks: tuple[dict[str, Any], ...] = ()
    tool_use_id: str | None = None


def read_answer(response: Any) -> Answer:
    """Select blocks by type ([H55], [O55]): thinking and redacted_thinking are skipped, the tool_use taken.

    ``refusal`` ([STOP]: "Claude declined to respond") and ``max_tokens`` with no tool call ("the response
    reached your max_tokens limit") become a ``declined`` reason instead of a silent "no tool call".
    """
    stop_reason = _get(response, "stop_reason")
    content = _get(response, "content") or []
    thinking = sum(_get(block, "type") in ("thinking", "redacted_thinking") for block in content)
    blocks = tuple(_as_dict(block) for block in content)
    for block in content:
        if _get(block, "type") == "tool_use":
            return Answer(
                (str(_get(block, "name")), dict(_get(block, "input") or {})),
                stop_reason,
                None,
                thinking,
                blocks,
                str(_get(block, "id")),
            )
    declined = None
    if stop_reason == "refusal":
        details = _get(response, "stop_details")
        category = _get(details, "category") if details is not None else None
        declined = "the model declined to answer (stop_reason refusal" + (
            f", {category})" if category else ")"
        )
    elif stop_reason == "max_tokens":
        usage = _get(response, "usage")
        spent = _get(usage, "output_tokens") if usage is not None else None
        declined = "the answer was cut off at max_tokens before any tool call" + (
            f" ({spent} output tokens, {thinking} thinking block(s))" if spent is not None else ""
        )
    return Answer(None, stop_reason, declined, thinking)
