"""The catalog: the external services, the platforms, the queues, the environment and the metric names.

Everything that used to keep its own list reads this module: the CDK code (``infra/``), the settings, the
monitoring, the act worker's executor lookup, the local runtime and the CLI. Adding an external service is one
``ServiceSpec`` in ``SERVICES`` plus its executor class (``models.Service`` is built from this list at import;
its declaration for the type checker gets the new member too, which a test checks); its act queue and DLQ,
alarms, act function, environment, grants, token secret, settings and local stand-in follow from the entry
(``tests/infra/test_catalog.py`` proves it with a made-up service).

The module imports only the standard library: it is on the cold-start path of every function (``models``
imports it), and the executors and adapters it names are imported lazily, by whoever needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# -- external services -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One external service and its act worker.

    - ``executor``: ``"module:Class"`` of its executor, imported only by the act worker that runs it;
    - ``api_url``: the default base URL of its API; ``api_url_context``: the CDK context key that overrides it
      (``None``: not configurable);
    - ``credentials_of``: the service whose token secret it reads (``None``: its own);
    - ``api``: the API it speaks, so what the local recording sink answers like (``None``: its own name);
    - ``platform``: the platform it acts on, so where a reply on that platform goes (``None``: none);
    - ``replies``: it replies on platforms, so it may send to the other act queues;
    - ``escalates``: it pages a person through the escalation service when its credentials are refused;
    - ``stages_followups``: it stages follow-ups (sends to and consumes the follow-ups queue);
    - ``escalation``: it is the escalation service (it pages people; its worker needs the escalation channel).
    """

    name: str
    executor: str
    api_url: str
    api_url_context: str | None = None
    credentials_of: str | None = None
    api: str | None = None
    platform: str | None = None
    replies: bool = False
    escalates: bool = True
    stages_followups: bool = False
    escalation: bool = False

    @property
    def token_secret(self) -> str:
        """The name of the ``token:<name>`` secret its worker reads."""
        return self.credentials_of or self.name

    @property
    def speaks(self) -> str:
        return self.api or self.name

    @property
    def act_queue(self) -> str:
        return act_queue_name(self.name)


GITHUB_API_URL: Final = "https://api.github.com"
SLACK_API_URL: Final = "https://slack.com/api"
DEFAULT_TICKETS_API_URL: Final = "https://tickets.example.invalid/api"

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "github",
        executor="switchboard.actions.github:GitHubExecutor",
        api_url=GITHUB_API_URL,
        platform="github",
    ),
    ServiceSpec(
        "slack",
        executor="switchboard.actions.slack:SlackExecutor",
        api_url=SLACK_API_URL,
        platform="slack",
    ),
    ServiceSpec(
        "tickets",
        executor="switchboard.actions.tickets:TicketsExecutor",
        api_url=DEFAULT_TICKETS_API_URL,
        api_url_context="ticketsApiUrl",
        replies=True,
        stages_followups=True,
    ),
    # Escalation pages people on Slack: it reads Slack's token and speaks Slack's API.
    ServiceSpec(
        "escalate",
        executor="switchboard.actions.slack:EscalateExecutor",
        api_url=SLACK_API_URL,
        credentials_of="slack",
        api="slack",
        replies=True,
        escalates=False,
        escalation=True,
    ),
)


def services() -> tuple[ServiceSpec, ...]:
    return SERVICES


def service_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in SERVICES)


def service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"no service {name!r} in the catalog")


def escalation_service() -> ServiceSpec:
    """The service that act workers page people through (401/403 from a service)."""
    (spec,) = (spec for spec in SERVICES if spec.escalation)
    return spec


def reply_targets() -> tuple[ServiceSpec, ...]:
    """The services a replying worker may send to: the platforms' services, and the escalation service."""
    return tuple(spec for spec in SERVICES if spec.platform is not None or spec.escalation)


def token_secrets() -> tuple[str, ...]:
    """One ``token:<name>`` secret per service that has its own token, in catalog order."""
    return tuple(dict.fromkeys(spec.token_secret for spec in SERVICES))


def sends_to(spec: ServiceSpec) -> tuple[str, ...]:
    """The queues its worker may send to: every act queue (replies), the escalation queue, the follow-ups."""
    queues: list[str] = []
    if spec.replies:
        queues += [other.act_queue for other in SERVICES]
    elif spec.escalates:
        queues.append(escalation_service().act_queue)
    if spec.stages_followups:
        queues.append(FOLLOWUPS)
    return tuple(queues)


def consumes(spec: ServiceSpec) -> tuple[str, ...]:
    """The queues its worker consumes: its act queue, and the follow-ups if it stages them."""
    return (spec.act_queue, *((FOLLOWUPS,) if spec.stages_followups else ()))


# -- platforms ---------------------------------------------------------------------------------------------

#: Platforms without webhooks: the poll function reads them on a schedule.
POLLED_PLATFORMS: Final = ("feed",)


def webhook_platforms() -> tuple[str, ...]:
    """The platforms with a webhook route and an ingest function: the adapter registry's, sorted.

    The registry (``switchboard.adapters.ADAPTERS``) stays the source of truth; it is imported on first call.
    """
    from switchboard.adapters import ADAPTERS

    return tuple(sorted(ADAPTERS))


def platforms() -> tuple[str, ...]:
    return (*webhook_platforms(), *POLLED_PLATFORMS)


# -- queues ------------------------------------------------------------------------------------------------

INGEST: Final = "ingest"
DECIDE: Final = "decide"
FOLLOWUPS: Final = "followups"


@dataclass(frozen=True)
class QueueSpec:
    """A main queue (each has a DLQ of the same kind): its name, its kind, and the role that consumes it
    (whose timeout sets its visibility timeout)."""

    name: str
    consumer: str
    fifo: bool = True

    @property
    def url_env(self) -> str:
        return queue_url_env(self.name)


def act_queue_name(service_name: str) -> str:
    return f"act-{service_name}"


def queues() -> tuple[QueueSpec, ...]:
    """Every main queue, in the stack's order. ``followups`` is the only standard queue: staged follow-ups
    need a per-message delay, which FIFO queues do not have."""
    return (
        QueueSpec(INGEST, consumer="classify"),
        QueueSpec(DECIDE, consumer="decide"),
        *(QueueSpec(spec.act_queue, consumer="act") for spec in SERVICES),
        QueueSpec(FOLLOWUPS, consumer="act", fifo=False),
    )


def queue(name: str) -> QueueSpec:
    for spec in queues():
        if spec.name == name:
            return spec
    raise KeyError(f"no queue {name!r} in the catalog")


def queue_url_env(name: str) -> str:
    """The environment variable holding a queue's URL: ``act-github`` -> ``ACT_GITHUB_QUEUE_URL``."""
    return f"{name.replace('-', '_').upper()}_QUEUE_URL"


# -- environment -------------------------------------------------------------------------------------------


class Env(StrEnum):
    """The environment variables the stack sets and the settings read (besides the queue URLs, named by
    ``queue_url_env``). A settings field is the variable's name in lower case."""

    SWITCHBOARD_FUNCTION = "SWITCHBOARD_FUNCTION"  # every function: its role (the tools read it)
    PLATFORM = "PLATFORM"
    WEBHOOK_SECRET_ID = "WEBHOOK_SECRET_ID"  # noqa: S105 - the name of a variable
    TASKS_TABLE_NAME = "TASKS_TABLE_NAME"
    MEMORY_TABLE_NAME = "MEMORY_TABLE_NAME"
    SWITCHBOARD_VERSION = "SWITCHBOARD_VERSION"
    LLM_API_URL = "LLM_API_URL"
    LLM_SECRET_ID = "LLM_SECRET_ID"  # noqa: S105 - the name of a variable
    LLM_DAILY_USD_CAP = "LLM_DAILY_USD_CAP"
    LABEL_POLICY = "LABEL_POLICY"  # classify, decide and the act workers: the policy gate's label allow-list
    # the act workers
    SERVICE = "SERVICE"
    ACT_QUEUE_URL = "ACT_QUEUE_URL"
    MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
    SERVICE_API_URL = "SERVICE_API_URL"
    SERVICE_TOKEN_SECRET_ID = "SERVICE_TOKEN_SECRET_ID"  # noqa: S105 - the name of a variable
    SHADOW_MODE_PARAMETER = "SHADOW_MODE_PARAMETER"
    DISABLED_ABILITIES_PARAMETER = "DISABLED_ABILITIES_PARAMETER"
    ESCALATION_CHANNEL = "ESCALATION_CHANNEL"
    # poll and triage
    FEEDS = "FEEDS"
    ALERT_TOPIC_ARN = "ALERT_TOPIC_ARN"
    DLQ_URLS = "DLQ_URLS"
    QUEUE_URLS = "QUEUE_URLS"
    # the Message Batches API (switchboard.batches): classify, decide and the batch function
    LLM_BATCHES = "LLM_BATCHES"
    INGEST_QUEUE_URL = "INGEST_QUEUE_URL"
    # the act workers that render text (GitHub, Slack, escalation): links that stay links
    LINK_ALLOW_LIST = "LINK_ALLOW_LIST"  # the CDK context linkAllowList: hosts beyond the platform's own
    TICKETS_API_URL = "TICKETS_API_URL"  # the deployed tickets service: its links are allowed
    # plans (switchboard.plans): decide starts the plan function by name; where the plan's lookups read
    PLAN_FUNCTION_NAME = "PLAN_FUNCTION_NAME"
    LOOKUP_TOKEN_SECRETS = "LOOKUP_TOKEN_SECRETS"  # noqa: S105 - the name of a variable
    GITHUB_API_URL = "GITHUB_API_URL"
    SLACK_API_URL = "SLACK_API_URL"
    # TICKETS_API_URL (above): the deployed tickets service, also where the plan's lookups read
    LLM_CACHE_SHARED = "LLM_CACHE_SHARED"  # the response cache's DynamoDB tier behind the process's own


# -- metrics -----------------------------------------------------------------------------------------------

#: The CloudWatch namespace of every application metric (Powertools' ``POWERTOOLS_METRICS_NAMESPACE``).
METRICS_NAMESPACE: Final = "Switchboard"


class Metric(StrEnum):
    """Every application metric, by its CloudWatch name.

    ``dimensions`` are the ones the emitting code passes with the value (``switchboard.metrics`` checks them);
    Powertools adds ``service`` (the function's service name, or the act worker's external service), and the
    ingest and poll handlers add ``platform``.
    """

    # the door and the poller
    EVENTS_ACCEPTED = "EventsAccepted"
    EVENTS_DUPLICATE = "EventsDuplicate"
    EVENTS_IGNORED = "EventsIgnored"
    EVENTS_REJECTED = "EventsRejected"
    # classify and decide
    RULE_HITS = "RuleHits"
    RULE_HITS_BY_RULE = "RuleHitsByRule"
    NEEDS_CLASSIFICATION = "NeedsClassification"
    DECISIONS = "Decisions"
    LLM_REPAIRS = "LlmRepairs"
    # the budgeted LLM client's ledger, one blob per tier
    LLM_CALLS = "LlmCalls"
    LLM_CACHE_HITS = "LlmCacheHits"
    LLM_INPUT_TOKENS = "LlmInputTokens"
    LLM_OUTPUT_TOKENS = "LlmOutputTokens"
    LLM_COST_USD = "LlmCostUsd"
    # the act layer
    ACTIONS_SUCCEEDED = "ActionsSucceeded"
    ACTIONS_SHADOWED = "ActionsShadowed"
    ACTIONS_DISABLED = "ActionsDisabled"
    ACTION_RETRIES = "ActionRetries"
    ACTIONS_DEAD_LETTERED = "ActionsDeadLettered"
    ACTIONS_FAILED_PERMANENTLY = "ActionsFailedPermanently"
    TASKS_NEEDING_HUMAN = "TasksNeedingHuman"
    BREAKER_OPEN = "BreakerOpen"
    FOLLOWUPS_RESCHEDULED = "FollowupsRescheduled"
    FOLLOWUPS_DONE = "FollowupsDone"
    # triage
    DLQ_MESSAGES = "DlqMessages"

    @property
    def dimensions(self) -> frozenset[str]:
        return _DIMENSIONS.get(self, frozenset())

    @property
    def unit(self) -> str:
        """The CloudWatch unit: ``Count``, or ``None`` (dollars have no CloudWatch unit)."""
        return "None" if self is Metric.LLM_COST_USD else "Count"


_LEDGER: Final = (
    Metric.LLM_CALLS,
    Metric.LLM_CACHE_HITS,
    Metric.LLM_INPUT_TOKENS,
    Metric.LLM_OUTPUT_TOKENS,
    Metric.LLM_COST_USD,
)
_DIMENSIONS: Final[dict[Metric, frozenset[str]]] = {
    Metric.RULE_HITS_BY_RULE: frozenset({"rule"}),
    Metric.DECISIONS: frozenset({"ability"}),
    Metric.BREAKER_OPEN: frozenset({"service"}),
    **{metric: frozenset({"tier"}) for metric in _LEDGER},
}
#: The outcomes of an action, one graph per service on the dashboard.
ACTION_OUTCOMES: Final = (
    Metric.ACTIONS_SUCCEEDED,
    Metric.ACTION_RETRIES,
    Metric.ACTIONS_DEAD_LETTERED,
    Metric.ACTIONS_FAILED_PERMANENTLY,
)
#: What the door counts per platform, on the dashboard.
INTAKE: Final = (Metric.EVENTS_ACCEPTED, Metric.EVENTS_DUPLICATE, Metric.EVENTS_IGNORED)
