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

    def max_tokens(self, purpose: str, answer_tokens: int) -> int:
        """The answer's own budget plus room for the thinking that comes before it."""
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
    # effort are not on the pages we found: not enforced.
    "claude-haiku-5-5": ModelContract(
        model="claude-haiku-5-5",
        tool_choices=frozenset({"auto", "any", "tool", "none"}),
        thinking="default",
        thinking_types=frozenset({"adaptive", "disabled"}),
        default_effort=None,
        prefill=False,
        sampling=False,
        tokenizer_factor=1.3,
        effort={"classify": "low", "decide": "low"},
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
        effort={"classify": "low", "decide": "medium"},
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
        effort={"classify": "low", "decide": "medium"},
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
      [O55]), and auto is valid everywhere; the system prompt asks for exactly one tool call instead.
    - No ``thinking`` field (adaptive thinking, the documented default on all three models) and
      ``output_config.effort`` set per model and purpose ([O55]: "output_config.effort to control thinking").
    - ``max_tokens`` leaves room for thinking, which counts against it ([H55], [O5]).
    - No sampling parameters and no assistant prefill: a final assistant turn is refused here, before a call.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    rules = contract(model)
    if messages and messages[-1].get("role") == "assistant":
        raise ValueError("the conversation must end with a user turn (assistant prefill)")
    return {
        "model": model,
        "system": f"{system}\n\n{CALL_ONE_TOOL}" if system else CALL_ONE_TOOL,
        "messages": list(messages),
        "tools": list(tools),
        "tool_choice": {"type": "auto"},
        "max_tokens": rules.max_tokens(purpose, answer_tokens),
        "output_config": {"effort": rules.effort[purpose]},
    }


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
    messages = request.get("messages") or []
    if not rules.prefill and messages and messages[-1].get("role") == "assistant":
        found.append(
            Violation(
                "messages",
                "Prefilling assistant messages is not supported for this model. "
                "The conversation must end with a user turn.",
            )
        )
    return found


def estimate_tokens(*parts: Any, model: str | None = None) -> int:
    """A deliberately generous token estimate for reserving budget before a call.

    About 3 characters a token for the old tokenizer, times the model's documented tokenizer factor (Claude
    4.7 and later count about 30 % more tokens for the same text, [H55]); the largest factor when the model is
    not given.
    """
    factor = contract(model).tokenizer_factor if model else MAX_TOKENIZER_FACTOR
    characters = sum(len(json.dumps(part, default=str, ensure_ascii=False)) for part in parts)
    return int(characters * factor) // CHARS_PER_TOKEN + 16


def _get(block: Any, name: str) -> Any:
    return block.get(name) if isinstance(block, Mapping) else getattr(block, name, None)


@dataclass(frozen=True)
class Answer:
    """What a response says, read by block type: the first tool call, or why there is none."""

    tool: tuple[str, dict[str, Any]] | None
    stop_reason: str | None
    declined: str | None = None  # the reason when the model's answer is unusable (refusal, cut off)
    thinking_blocks: int = 0


def read_answer(response: Any) -> Answer:
    """Select blocks by type ([H55], [O55]): thinking and redacted_thinking are skipped, the tool_use taken.

    ``refusal`` ([STOP]: "Claude declined to respond") and ``max_tokens`` with no tool call ("the response
    reached your max_tokens limit") become a ``declined`` reason instead of a silent "no tool call".
    """
    stop_reason = _get(response, "stop_reason")
    content = _get(response, "content") or []
    thinking = sum(_get(block, "type") in ("thinking", "redacted_thinking") for block in content)
    for block in content:
        if _get(block, "type") == "tool_use":
            return Answer(
                (str(_get(block, "name")), dict(_get(block, "input") or {})), stop_reason, None, thinking
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
