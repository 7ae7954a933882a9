"""The rules chain: ordered, first match wins. Deterministic rules decide everything they can.

A rule answers ``None`` (not mine, ask the next rule) or one of three results: ``Act`` (a direct action, no
LLM at all), ``Drop`` (with a reason), or ``NeedsClassification`` (only this reaches the small model).
The chain is configured in one place: ``default_chain()``. A command is one more rule class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Protocol

from switchboard.abilities import ability
from switchboard.errors import InvalidParams
from switchboard.fields import DECISION_MAX, DECISION_MIN
from switchboard.memory import AuthorProfile, CountedRequest
from switchboard.models import InboundEvent, Platform
from switchboard.ports import AuthorDirectory
from switchboard.prose import HELP_FORMS, prose
from switchboard.sanitize import extract_links


@dataclass(frozen=True)
class PlannedAction:
    ability: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Act:
    rule: str
    actions: tuple[PlannedAction, ...]


@dataclass(frozen=True)
class Drop:
    rule: str
    reason: str


@dataclass(frozen=True)
class NeedsClassification:
    rule: str = "fallthrough"
    hints: dict[str, Any] = field(default_factory=dict)


RuleResult = Act | Drop | NeedsClassification


@dataclass(frozen=True)
class RulesConfig:
    self_accounts: frozenset[str] = frozenset({"switchboard", "switchboard[bot]"})
    rate_limit: int = 20
    rate_window_seconds: int = 3_600


class RuleContext:
    """What the rules may consult besides the event: the author's memory, loaded once and only if asked.

    Where ``counts_with_read`` says so for the event (asked at the read, as the rules' own questions are),
    the author's read also counts the event's request (``AuthorDirectory.count_request``: one request for
    both) and ``request_count`` answers with that count; otherwise the read only reads, and ``request_count``
    counts when it is first asked. Either way one context counts its event at most once."""

    def __init__(
        self,
        event: InboundEvent,
        memory: AuthorDirectory | None,
        config: RulesConfig,
        *,
        counts_with_read: Callable[[InboundEvent], bool] | None = None,
    ) -> None:
        self.event = event
        self.memory = memory
        self.config = config
        self.counts_with_read = counts_with_read
        self.counted: CountedRequest | None = None

    @cached_property
    def profile(self) -> AuthorProfile:
        if self.memory is None or not self.event.author:
            return AuthorProfile()
        if self.counted is not None:
            return self.counted.profile
        if self.counts_with_read is not None and self.counts_with_read(self.event):
            return self._count(self.memory, self.event.author).profile
        return self.memory.profile(self.event.platform.value, self.event.author)

    def request_count(self) -> int | None:
        """The event's place in its author's current window (counted once), or None when it is not counted:
        no memory, no author, or an author trusted or blocked."""
        if self.memory is None or not self.event.author:
            return None
        return (self.counted or self._count(self.memory, self.event.author)).count

    def give_back(self) -> None:
        """Take back the request this context counted, for an event whose rules will not use it (a duplicate,
        a task past its rules); nothing when it counted none."""
        if self.memory is not None and self.counted is not None:
            self.memory.give_back(self.counted)
            self.counted = None

    def _count(self, memory: AuthorDirectory, author: str) -> CountedRequest:
        window = self.config.rate_window_seconds
        self.counted = memory.count_request(self.event.platform.value, author, window)
        return self.counted


class Rule(Protocol):
    name: ClassVar[str]

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None: ...


def planned(event: InboundEvent, ability_name: str, chosen: dict[str, Any]) -> PlannedAction:
    """A planned action whose parameters passed the ability's model, with the target bound from the event."""
    return PlannedAction(ability_name, ability(ability_name).bound_params(event, chosen))


def reply(event: InboundEvent, text: str) -> PlannedAction | None:
    """A reply in the event's own thread, where the platform has one; None where we stay silent."""
    if event.platform is Platform.GITHUB:
        return planned(event, "github.comment", {"body": text})
    if event.platform is Platform.SLACK:
        return planned(event, "slack.reply", {"text": text})
    return None


class BlockList:
    name: ClassVar[str] = "block_list"

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        return Drop(self.name, "author_blocked") if context.profile.blocked else None


class LoopGuard:
    """Never answer a bot, ourselves included: that is how two agents talk to each other forever."""

    name: ClassVar[str] = "loop_guard"

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if event.author_is_bot or (event.author or "").lower() in context.config.self_accounts:
            return Drop(self.name, "author_is_bot")
        return None


class NothingToSay:
    """Say nothing to nothing: text that is empty once sanitized (``null``, white space, markup only, a
    missing field, only the bot's own mention) and system messages (a topic changed, a reply counted) are
    dropped with their reason, before any model call and before the rate limit could answer them."""

    name: ClassVar[str] = "nothing_to_say"
    #: Slack message subtypes that carry what a person wrote; every other subtype is the system speaking
    #: ("message" event, docs.slack.dev/reference/events/message, the subtypes' list, read 2026-12-01).
    USER_TEXT_SUBTYPES: ClassVar[frozenset[str]] = frozenset({"me_message", "thread_broadcast", "file_share"})

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        subtype = event.context.get("subtype")
        if subtype and subtype not in self.USER_TEXT_SUBTYPES:
            return Drop(self.name, f"system_message:{subtype}")
        if not event.text.strip():
            return Drop(self.name, "empty_text")
        return None


class DiscussionsUnsupported:
    """GitHub discussions are refused, with the reason on the task: the abilities act through the REST Issues
    API, which has no discussions (a label, a comment or a close there needs the GraphQL API,
    https://docs.github.com/en/graphql/guides/using-the-graphql-api-for-discussions), and a discussion's
    number names another thing, or nothing, under ``/issues/``. No model is asked and nothing is sent."""

    name: ClassVar[str] = "discussions_unsupported"
    reason: ClassVar[str] = "discussions are not supported yet"

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if event.platform is Platform.GITHUB and event.context.get("kind") == "discussion":
            return Drop(self.name, self.reason)
        return None


class RateLimit:
    """An atomic counter per author and window: one polite reply when the limit is crossed, then silence.

    The count is made with the author's read where the chain's context says so (``RuleChain.context``), else
    here. Trusted authors are not counted, nor blocked ones (the block list drops them first)."""

    name: ClassVar[str] = "rate_limit"
    #: It writes (the author's count): the rules before it decide without side effects (``RuleChain.settled``)
    counts: ClassVar[bool] = True
    message: ClassVar[str] = (
        "You are sending requests faster than I can handle them. I will pick up again in a little while."
    )

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if context.profile.trusted:
            return None
        count = context.request_count()
        limit = context.config.rate_limit
        if count is None or count <= limit:
            return None
        polite = reply(event, self.message) if count == limit + 1 else None
        return Act(self.name, (polite,)) if polite else Drop(self.name, "rate_limited")


SPAM_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:buy|cheap|free)\s+(?:followers|likes|viagra|cialis|crypto|bitcoin)\b",
        r"\b(?:airdrop|giveaway)\b.*\b(?:claim|connect your wallet|send)\b",
        r"\bdouble your (?:bitcoin|eth|crypto|money)\b",
        r"\b(?:earn|make) \$?\d[\d,]* (?:a|per) (?:day|week|hour)\b",
        r"\b(?:casino|betting|porn|xxx)\b.*https?://",
        r"(.)\1{24,}",
    )
]
ABUSE_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:kill|hurt) (?:yourself|you)\b",
        r"\bkys\b",
        r"\b(?:you|u) (?:stupid|worthless|useless) (?:bot|piece of|idiot)",
        r"\b(?:fuck|screw) (?:you|off|this bot)\b",
    )
]


class SpamAndAbuse:
    name: ClassVar[str] = "spam_abuse"
    max_links: ClassVar[int] = 6

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if context.profile.trusted:
            return None
        if any(pattern.search(event.text) for pattern in ABUSE_PATTERNS):
            return Drop(self.name, "abuse")
        if len(extract_links(event.text, limit=50)) > self.max_links or any(
            pattern.search(event.text) for pattern in SPAM_PATTERNS
        ):
            return Drop(self.name, "spam")
        return None


class Command:
    """Base for ``/command args`` rules on a line of their own, in prose (``prose``). Subclasses set name,
    command and act."""

    name: ClassVar[str]
    command: ClassVar[str]
    platforms: ClassVar[frozenset[Platform]] = frozenset({Platform.GITHUB})

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if event.platform not in self.platforms:
            return None
        match = re.search(rf"^/{self.command}(?:[ \t]+(?P<args>[^\n]*))?$", prose(event.text), re.MULTILINE)
        if not match:
            return None
        try:
            return self.act(event, context, (match["args"] or "").strip())
        except InvalidParams as exc:
            field_name = (
                exc.errors[0].get("loc", ("params",))[0]
                if exc.errors and exc.errors[0].get("loc")
                else "params"
            )
            return Drop(self.name, f"invalid_command:{field_name}")

    def act(self, event: InboundEvent, context: RuleContext, args: str) -> RuleResult:
        raise NotImplementedError(f"{type(self).__name__} must define act()")


def _words(args: str) -> list[str]:
    return [word for word in re.split(r"[,\s]+", args) if word]


class LabelCommand(Command):
    """``/label bug`` or ``/label bug, needs-triage``."""

    name: ClassVar[str] = "command_label"
    command: ClassVar[str] = "label"

    def act(self, event: InboundEvent, context: RuleContext, args: str) -> RuleResult:
        return Act(self.name, (planned(event, "github.add_labels", {"labels": _words(args)}),))


class AssignCommand(Command):
    """``/assign @mona @hubot`` (``/assign me`` assigns the author)."""

    name: ClassVar[str] = "command_assign"
    command: ClassVar[str] = "assign"

    def act(self, event: InboundEvent, context: RuleContext, args: str) -> RuleResult:
        people = [event.author or "" if word.lower() == "me" else word.lstrip("@") for word in _words(args)]
        return Act(self.name, (planned(event, "github.assign", {"assignees": people}),))


class CloseCommand(Command):
    """``/close`` or ``/close not planned``: only for trusted accounts and the issue's own author."""

    name: ClassVar[str] = "command_close"
    command: ClassVar[str] = "close"

    def act(self, event: InboundEvent, context: RuleContext, args: str) -> RuleResult:
        if not (
            context.profile.trusted or (event.author and event.author == event.context.get("issue_author"))
        ):
            return Drop(self.name, "not_permitted")
        reason = (
            "not_planned" if "not planned" in args.lower() or "not_planned" in args.lower() else "completed"
        )
        return Act(self.name, (planned(event, "github.close", {"reason": reason}),))


HELP_TEXT = (
    "I understand these commands: `/label <names>`, `/assign <logins>|me`, `/close [not planned]`, `help`. "
    "Anything else is read by a model and answered, or handed to a person."
)


class HelpCommand:
    name: ClassVar[str] = "command_help"

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        if prose(event.text).strip().lower().lstrip("/!") not in HELP_FORMS:
            return None
        answer = reply(event, HELP_TEXT)
        return Act(self.name, (answer,)) if answer else Drop(self.name, "no_reply_channel")


class TrustedEscalate:
    """A trusted account's ``/escalate <note>`` goes straight to a person: no model in between."""

    name: ClassVar[str] = "trusted_escalate"

    def evaluate(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        match = re.search(r"^/escalate(?:[ \t]+(?P<note>[^\n]+))?$", prose(event.text), re.MULTILINE)
        if not match or not context.profile.trusted:
            return None
        note = (match["note"] or "").strip()
        if note and not DECISION_MIN <= len(note) <= DECISION_MAX:  # what a person is asked to decide
            answer = reply(
                event,
                f"The note after /escalate must be {DECISION_MIN} to {DECISION_MAX:,} characters long "
                f"(yours has {len(note):,}). Nothing was escalated.",
            )
            return Act(self.name, (answer,)) if answer else Drop(self.name, "invalid_command:note_length")
        note = note or "asked for a person"
        action = planned(
            event,
            "escalate.human",
            {"summary": f"{event.author} (trusted) escalated: {note}", "decision_needed": note, "tried": []},
        )
        return Act(self.name, (action,))


class RuleChain:
    def __init__(self, rules: Sequence[Rule], memory: AuthorDirectory | None, config: RulesConfig) -> None:
        self.rules = tuple(rules)
        self.memory = memory
        self.config = config

    def context(self, event: InboundEvent) -> RuleContext:
        """A context for ``event`` whose one request to the author directory also counts the event where the
        rule that counts would (``reaches_count``)."""
        return RuleContext(event, self.memory, self.config, counts_with_read=self.reaches_count)

    def reaches_count(self, event: InboundEvent) -> bool:
        """Whether ``event`` reaches the rule that counts (``counts``: the rate limit) when its author is
        neither trusted nor blocked, the only authors counted: the rules before it, asked about such an
        author, leave the event to the rest. A bot's event, or one with nothing to say, is not counted."""
        neutral = RuleContext(event, None, self.config)
        for rule in self.rules:
            if getattr(rule, "counts", False):
                return True
            if rule.evaluate(event, neutral) is not None:
                return False
        return False

    def evaluate(self, event: InboundEvent, context: RuleContext | None = None) -> RuleResult:
        """The first rule's result; in ``context`` (one this chain made for ``event``) when given, so what it
        read and counted serves this evaluation too."""
        context = context or self.context(event)
        for rule in self.rules:
            result = rule.evaluate(event, context)
            if result is not None:
                return result
        return NeedsClassification(hints={"trusted": context.profile.trusted})

    def settled(self, event: InboundEvent, context: RuleContext | None = None) -> RuleResult | None:
        """What the rules before the first one that writes (``counts``: the rate limit) decide, or None when
        they leave the event to the rest. Free of side effects (so a duplicate may evaluate it too), but for a
        given ``context`` that counts with its read: its caller gives a duplicate's count back."""
        context = context or RuleContext(event, self.memory, self.config)
        for rule in self.rules:
            if getattr(rule, "counts", False):
                return None
            result = rule.evaluate(event, context)
            if result is not None:
                return result
        return None


def default_chain(memory: AuthorDirectory | None = None, config: RulesConfig | None = None) -> RuleChain:
    """The one place the chain is configured. Order matters: the first match wins. The rules that need only
    the event come first, so an event they drop (a bot's, one with nothing to say) costs no request for its
    author; the block list then drops a blocked author before anything counts or answers them."""
    rules: list[Rule] = [
        LoopGuard(),
        NothingToSay(),
        DiscussionsUnsupported(),
        BlockList(),
        RateLimit(),
        SpamAndAbuse(),
        LabelCommand(),
        AssignCommand(),
        CloseCommand(),
        HelpCommand(),
        TrustedEscalate(),
    ]
    return RuleChain(rules, memory, config or RulesConfig())
