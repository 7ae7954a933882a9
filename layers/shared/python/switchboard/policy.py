"""The policy gate: ONE deterministic check that every action passes before it is sent.

Whoever chose the action (a rule, the model, a plan, a person on call, or the agent itself for a follow-up's
reply), it passes here: ``Lifecycle.dispatch``, ``Lifecycle.escalate`` and ``Lifecycle.resolve_with_action``
ask the gate before ``action_ids.send_action``, and the act layer asks again at execution, as defence in depth
for an action that reached an act queue another way: ``static_check`` (the rules that need no author) for
every action, and for those whose rules depend on the author (close, assign others) ``at_execution``, with
the same trust lookup as at dispatch. The
prompts describe the task; they hold no policy (seed 000: "Mixing behavioral policy into your prompts makes it
invisible, untestable, and fragile").

The rules, by ability:

- ``escalate.human``: always allowed: a person must always be reachable.
- ``github.comment``, ``slack.reply``: allowed; what they say is rendered for the platform at the executor
  (``switchboard.render``), so no text can broadcast, mention or link where policy does not allow it.
- ``github.close``: only a trusted account, the issue's own author, or a person on call.
- ``github.assign``: at most ``max_assignees`` logins; an author who is not trusted may assign only
  themselves (``/assign me``); a person on call may assign anyone.
- ``github.add_labels``: only labels on the repository's allow-list (``LabelPolicy``, from the CDK context
  ``labelPolicy``), for everyone: the list says which labels exist to be applied.
- ``tickets.create``: allowed.
- acting abilities (``ACTING``: labels, assign, close, tickets): at most ``acting_rate_limit`` per author and
  window (``AuthorDirectory.count_once``, in windows of its own under ``<platform>-acts``: the rules' request
  counts are apart, on the author's profile), each action id counted once (a retried dispatch is not counted
  again); trusted accounts and people on call are not counted.
- the agent itself (``Chooser.AGENT``: a follow-up's reply, an access escalation) may only reply or escalate.

Every verdict (allowed, or refused with the reason) is recorded in the task's history under ``policy``.

Who the author is (trusted or not) is read from the author directory once per event and step: the gate
keeps that standing for the event it was read for (``remember``, ``known``), for at most
``standing_max_age_seconds`` (0: never kept), so the rules, the tools offered, the verdicts and the dispatch
of one event agree and cost one read. Classify hands what it read to decide in the ``DecideRequest``
(``author_trusted``, ``author_read_at``): decide reads again only when that is older than the bound. A trust
change thus applies to an event already in flight up to that much later; the act layer's re-check of the
author-dependent abilities (close, assign others) keeps its own lookup.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, Final

from switchboard.abilities import REGISTRY, Ability
from switchboard.models import ActionRequest, InboundEvent
from switchboard.ports import AuthorDirectory, Clock

#: The labels that may be applied where ``labelPolicy`` names no list: the ones the rules and the intents use,
#: and GitHub's default labels (https://docs.github.com/issues/using-labels-and-milestones-to-track-work/managing-labels#about-default-labels).
DEFAULT_LABELS: Final = (
    "bug",
    "feedback",
    "question",
    "duplicate",
    "needs-triage",
    "documentation",
    "enhancement",
    "good first issue",
    "help wanted",
    "invalid",
    "wontfix",
)
ANY_REPO: Final = "*"

#: Abilities that change the outside world beyond a reply: rate-limited per author.
ACTING: Final = frozenset({"github.add_labels", "github.assign", "github.close", "tickets.create"})
REPLIES: Final = frozenset({"github.comment", "slack.reply"})
ALWAYS: Final = frozenset({"escalate.human"})

#: How long classify and decide keep an event's author standing (``PolicyGate.standing_max_age_seconds``):
#: the event's own steps, from the rules' read to the dispatch after a model call and decide's hand-over, well
#: within it; a trust change reaches an event already in flight at most this much later.
STANDING_MAX_AGE_SECONDS: Final = 60.0


class Chooser(StrEnum):
    """Who chose an action."""

    RULE = "rule"
    MODEL = "model"
    PLAN = "plan"
    PERSON = "person"
    AGENT = "agent"


@dataclass(frozen=True)
class LabelPolicy:
    """Which labels may be applied, per repository (``owner/repo``, case-insensitive) with ``*`` for the rest.

    An entry is a label name (compared case-insensitively, as GitHub does) or a pattern with ``*``
    (``area/*``). A repository's own list replaces the ``*`` list; without either, ``DEFAULT_LABELS``.
    """

    lists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {ANY_REPO: DEFAULT_LABELS})

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | None) -> LabelPolicy:
        """From the ``LABEL_POLICY`` JSON (``{"owner/repo": ["bug", …], "*": [...]}``); empty: the default."""
        if value is None or value == "" or value == {}:
            return cls()
        data = json.loads(value) if isinstance(value, str) else value
        if not isinstance(data, Mapping):
            raise ValueError('labelPolicy must be a JSON object: {"owner/repo": ["bug", ...], "*": [...]}')
        lists: dict[str, tuple[str, ...]] = {}
        for repo, labels in data.items():
            if not isinstance(repo, str) or not isinstance(labels, list):
                raise ValueError(f"labelPolicy[{repo!r}] must be a list of label names")
            if not all(isinstance(label, str) and 0 < len(label) <= 50 for label in labels):
                raise ValueError(f"labelPolicy[{repo!r}]: each label is a name of 1 to 50 characters")
            lists[repo.lower()] = tuple(labels)
        lists.setdefault(ANY_REPO, DEFAULT_LABELS)
        return cls(lists)

    def allowed(self, repo: str) -> tuple[str, ...]:
        return self.lists.get(repo.lower(), self.lists.get(ANY_REPO, DEFAULT_LABELS))

    def admits(self, repo: str, label: str) -> bool:
        wanted = label.casefold()
        for entry in self.allowed(repo):
            entry = entry.casefold()
            if entry == wanted or ("*" in entry and fnmatchcase(wanted, entry)):
                return True
        return False

    def exact(self, repo: str) -> list[str]:
        """The allowed names without patterns: what the model's tool may offer as an enum."""
        return [label for label in self.allowed(repo) if "*" not in label]


@dataclass(frozen=True)
class PolicyConfig:
    labels: LabelPolicy = field(default_factory=LabelPolicy)
    max_assignees: int = 3
    acting_rate_limit: int = 10
    acting_rate_window_seconds: int = 3_600


@dataclass(frozen=True)
class Standing:
    """What the gate knows of whoever the action acts for."""

    author: str | None = None
    trusted: bool = False
    issue_author: bool = False

    @classmethod
    def of(cls, event: InboundEvent, trusted: bool) -> Standing:
        author = event.author or None
        owner = event.context.get("issue_author") or ""
        return cls(author, trusted, author is not None and author.casefold() == owner.casefold())


@dataclass(frozen=True)
class Verdict:
    action_id: str
    ability: str
    chosen_by: Chooser
    allowed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "ability": self.ability,
            "chosen_by": self.chosen_by.value,
            "allowed": self.allowed,
            "reason": self.reason,
        }


def judge(
    ability_name: str,
    params: Mapping[str, Any],
    standing: Standing,
    chosen_by: Chooser,
    config: PolicyConfig,
) -> str | None:
    """The rules without the rate: None when allowed, else why not. Pure, so it is tested over many inputs."""
    if ability_name not in REGISTRY:
        return f"{ability_name} is not an ability"
    if ability_name in ALWAYS:
        return None
    if ability_name in REPLIES:
        return None
    if chosen_by is Chooser.AGENT:
        return f"the agent itself may only reply or escalate, not {ability_name}"
    authority = standing.trusted or chosen_by is Chooser.PERSON
    if ability_name == "github.close":
        if authority or standing.issue_author:
            return None
        return "only a trusted account or the issue's author may close it"
    if ability_name == "github.assign":
        assignees = [str(login) for login in params.get("assignees") or []]
        if len(assignees) > config.max_assignees:
            return f"at most {config.max_assignees} assignees, not {len(assignees)}"
        if authority:
            return None
        me = (standing.author or "").casefold()
        others = sorted({login for login in assignees if login.casefold() != me})
        return f"only trusted accounts may assign others ({', '.join(others)})" if others or not me else None
    if ability_name == "github.add_labels":
        repo = str(params.get("repo") or "")
        refused = [
            str(label) for label in params.get("labels") or [] if not config.labels.admits(repo, label)
        ]
        return f"labels not on the allow-list of {repo or 'this repository'}: {refused}" if refused else None
    return None


class PolicyGate:
    """The gate, with the author directory it consults for trust and the acting rate (None: nobody trusted,
    no rate counted)."""

    def __init__(
        self,
        config: PolicyConfig | None = None,
        authors: AuthorDirectory | None = None,
        *,
        standing_max_age_seconds: float = 0.0,
        clock: Clock = time.time,
    ) -> None:
        self.config = config or PolicyConfig()
        self.authors = authors
        self.standing_max_age_seconds = standing_max_age_seconds
        self.clock = clock
        self._known: tuple[str, float, Standing] | None = None  # (event id, read at, standing): one event

    def standing(self, event: InboundEvent) -> Standing:
        """The author's standing for ``event``: the one kept for this event (``known``), else read now."""
        kept = self.known(event)
        if kept is not None:
            return kept[0]
        if self.authors is None or not event.author:
            return Standing.of(event, False)
        read_at = self.clock()
        trusted = self.authors.profile(event.platform.value, event.author).trusted
        self.remember(event, trusted, read_at)
        return Standing.of(event, trusted)

    def remember(self, event: InboundEvent, trusted: bool, read_at: float) -> None:
        """Keep what the author directory said of ``event``'s author at ``read_at`` (epoch seconds) as this
        event's standing, while it is at most ``standing_max_age_seconds`` old (it replaces any other
        event's)."""
        if self.standing_max_age_seconds > 0 and event.author:
            self._known = (event.event_id, read_at, Standing.of(event, trusted))

    def known(self, event: InboundEvent) -> tuple[Standing, float] | None:
        """The standing kept for ``event`` and when it was read, if it is still within the bound."""
        kept = self._known
        if kept is None or kept[0] != event.event_id:
            return None
        if not 0 <= self.clock() - kept[1] <= self.standing_max_age_seconds:
            return None
        return kept[2], kept[1]

    def check(
        self,
        action: ActionRequest,
        event: InboundEvent | None,
        chosen_by: Chooser,
        *,
        standing: Standing | None = None,
        count_rate: bool = True,
    ) -> Verdict:
        """The verdict on one action for ``event``'s author (None: no author, nobody's authority); with
        ``count_rate`` an allowed acting action counts against its author's rate."""
        if standing is None:
            standing = self.standing(event) if event is not None else Standing()
        refused = judge(action.ability, action.params, standing, chosen_by, self.config)
        if refused is None and count_rate and event is not None:
            refused = self._over_rate(action, event, standing, chosen_by)
        if refused is not None:
            return Verdict(action.action_id, action.ability, chosen_by, False, refused)
        return Verdict(action.action_id, action.ability, chosen_by, True, _why_allowed(action, standing))

    def review(
        self, actions: Sequence[ActionRequest], event: InboundEvent, chosen_by: Chooser
    ) -> list[Verdict]:
        standing = self.standing(event)
        return [self.check(action, event, chosen_by, standing=standing) for action in actions]

    def static_check(self, action: ActionRequest) -> str | None:
        """At execution, with no event: the rules that hold for any author (labels, how many assignees).
        None when allowed, else why not."""
        anyone = Standing(author=None, trusted=True)
        return judge(action.ability, action.params, anyone, Chooser.PERSON, self.config)

    def needs_standing(self, action: ActionRequest) -> bool:
        """Whether the rules for ``action`` depend on who it acts for (close, assign others): only then does
        the act layer look the author up."""
        nobody = judge(action.ability, action.params, Standing(), Chooser.MODEL, self.config)
        return nobody is not None and self.static_check(action) is None

    def at_execution(
        self, action: ActionRequest, event: InboundEvent, history: Iterable[Mapping[str, Any]]
    ) -> str | None:
        """The act layer's re-check of an action whose rules depend on its author: the same rules and the
        same trust lookup (this gate's author directory) as at dispatch, without counting the rate again.
        Who chose it comes from the verdict recorded for this action id at dispatch, else from the history
        (``chooser_of``): an action that reached the act queue with no verdict has no person's authority.
        None when allowed, else why not."""
        entries = list(history)
        chosen_by = _recorded_chooser(entries, action.action_id) or chooser_of(entries)
        verdict = self.check(action, event, chosen_by, count_rate=False)
        return None if verdict.allowed else verdict.reason

    def offered(self, event: InboundEvent, abilities: Iterable[Ability]) -> list[Ability]:
        """The abilities this event's author may use at all (the model is offered only these)."""
        standing = self.standing(event)
        return [entry for entry in abilities if self._may_use(entry.name, standing)]

    def narrow_tool(self, event: InboundEvent, tool: dict[str, Any]) -> dict[str, Any]:
        """A tool schema with its label names limited to the repository's allow-list (an enum)."""
        if tool.get("name") != "github__add_labels":
            return tool
        names = self.config.labels.exact(event.context.get("repo") or "")
        schema = json.loads(json.dumps(tool["input_schema"]))
        items = schema.get("properties", {}).get("labels", {}).get("items")
        if isinstance(items, dict) and names:
            items["enum"] = names
        return {**tool, "input_schema": schema}

    @staticmethod
    def _may_use(name: str, standing: Standing) -> bool:
        if name == "github.close":
            return standing.trusted or standing.issue_author
        return True

    def _over_rate(
        self, action: ActionRequest, event: InboundEvent, standing: Standing, chosen_by: Chooser
    ) -> str | None:
        if (
            action.ability not in ACTING
            or self.authors is None
            or not standing.author
            or standing.trusted
            or chosen_by is Chooser.PERSON
        ):
            return None
        # counted once per action id: a retried dispatch of the same action is not counted again
        limit = self.config.acting_rate_limit
        used = self.authors.count_once(
            f"{event.platform.value}-acts",
            standing.author,
            self.config.acting_rate_window_seconds,
            action.action_id,
            limit,
        )
        if used > limit:
            window = self.config.acting_rate_window_seconds
            return f"{standing.author} is over {limit} acting actions per {window} s"
        return None


def _why_allowed(action: ActionRequest, standing: Standing) -> str:
    if action.ability in ALWAYS:
        return "a person is always reachable"
    if action.ability in REPLIES:
        return "a reply, rendered for its platform"
    if standing.trusted:
        return "trusted account"
    if action.ability == "github.close" and standing.issue_author:
        return "the issue's author"
    return "within policy"


def _recorded_chooser(history: Iterable[Mapping[str, Any]], action_id: str) -> Chooser | None:
    """Who chose ``action_id``, by the allowed verdict the gate recorded for it (None: no such verdict)."""
    for entry in history:
        detail = entry.get("detail")
        verdicts = detail.get("policy") if isinstance(detail, Mapping) else None
        for verdict in verdicts if isinstance(verdicts, list) else []:
            mine = isinstance(verdict, Mapping) and verdict.get("action_id") == action_id
            if mine and verdict.get("allowed"):
                try:
                    return Chooser(verdict.get("chosen_by"))
                except ValueError:
                    return None
    return None


def chooser_of(history: Iterable[Mapping[str, Any]]) -> Chooser:
    """Who chose a task's planned actions, from its history: the model when decide decided them, else the
    CLASSIFIED entry's route (``rule``, or ``llm`` for an intent's direct action)."""
    route = None
    for entry in history:
        if entry.get("status") == "DECIDED":
            return Chooser.MODEL
        detail = entry.get("detail")
        if entry.get("status") == "CLASSIFIED" and isinstance(detail, Mapping):
            route = detail.get("route")
    return Chooser.RULE if route == "rule" else Chooser.MODEL
