"""The reference corpus (``events/corpus/messages.jsonl``) routed through the real agent core.

Every message carries the route a good triage should take: ``rule`` (no LLM call at all), ``small`` (the small
model alone decides: spam and abuse dropped, a bug report or feedback handled directly) or ``escalated`` (a
stronger model, or a person, was needed). The actual route is read from the Messages API stand-in's call log,
so it measures what the system did, not what it says it did. The stand-in is deterministic, so the corpus is
too; the few messages where its keyword tables disagree with the label are listed below, with why.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from switchboard.dlq import ORIGINAL_MESSAGE_ID
from switchboard.dynamo import DynamoAuthorDirectory
from switchboard.llm import DEFAULT_TIERS
from switchboard.models import ActionRequest, DecideRequest, InboundEvent, Platform, TaskStatus
from switchboard.sanitize import clean_text, extract_links
from tests.conftest import create_tables, moto_clients
from tests.integration.test_agent_core import CLASSIFY_URL, DECIDE_URL, Agent, make_agent
from tools.standin.messages_api import MessagesApiStandin

CORPUS = Path(__file__).resolve().parents[2] / "events" / "corpus" / "messages.jsonl"
ROUTES = ("rule", "small", "escalated")
CATEGORIES = frozenset(
    {
        "command",
        "question",
        "bug_report",
        "feature_request",
        "support_request",
        "feedback",
        "spam",
        "abuse",
        "prompt_injection",
        "other",
    }
)
REPO, NUMBER, ISSUE_AUTHOR = "octo-org/demo", 7, "mona"

# Where the deterministic stand-in and the label disagree. The label says what a good triage should do; the
# stand-in is a keyword table, not a model. Keep this short (at most 3 % of the corpus) and say why.
KNOWN_DISAGREEMENTS: dict[str, str] = {
    "c112": (
        "a question about a log line: the exception name ConditionalCheckFailedException contains 'failed' "
        "and 'exception', so the stand-in's substring match is sure it is a bug report (small, not escalated)"
    ),
    "c206": (
        "a German bug report ending in 'Fehler im Parser?': one bug word ties with the question mark, so the "
        "stand-in's small tier is unsure and the medium tier classifies again (escalated, not small)"
    ),
}


@dataclass(frozen=True)
class Routed:
    row: dict[str, Any]
    event: InboundEvent
    status: TaskStatus
    route: str
    models: list[str]
    tokens: int
    usd: float
    actions: list[ActionRequest]

    @property
    def id(self) -> str:
        return str(self.row["id"])


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus_aws(moto_endpoint: str) -> Iterator[Callable[[str], Any]]:
    """Module-scoped twin of the ``aws`` fixture: boto3 clients bound to the session's moto server."""
    with pytest.MonkeyPatch.context() as patch:
        yield moto_clients(moto_endpoint, patch)


@pytest.fixture(scope="module")
def corpus_tables(corpus_aws: Callable[[str], Any]) -> tuple[str, str]:
    """Module-scoped twin of the ``tables`` fixture: one tasks and one memory table for the whole corpus."""
    return create_tables(corpus_aws("dynamodb"), prefix="corpus-")


@pytest.fixture(scope="module")
def corpus_standin() -> Iterator[MessagesApiStandin]:
    with MessagesApiStandin(slow_seconds=12) as server:
        yield server


def corpus_event(row: dict[str, Any], ordinal: int) -> InboundEvent:
    """The event an adapter would have produced for this message (text cleaned at the door, as they do)."""
    platform = Platform(row["platform"])
    text = clean_text(row["text"])
    if platform is Platform.GITHUB:
        event_type, conversation = "issue_comment.created", f"{REPO}#{NUMBER}"
        context = {"repo": REPO, "number": str(NUMBER), "kind": "issue", "issue_author": ISSUE_AUTHOR}
    elif platform is Platform.SLACK:
        ts = f"1763712000.{ordinal:06d}"
        event_type, conversation = "message", f"T1:C024BE91L:{ts}"
        context = {"team": "T1", "channel": "C024BE91L", "thread_ts": ts, "ts": ts}
    elif platform is Platform.STANDARD:
        event_type, conversation = "comment.created", f"support-thread-{ordinal}"
        context = {"conversation": conversation}
    else:
        event_type, conversation = "mentions.item", f"mentions:{ordinal}"
        context = {"conversation": conversation}
    return InboundEvent(
        platform=platform,
        event_id=f"corpus-{row['id']}",
        event_type=event_type,
        author=row["author"],
        author_is_bot=bool(row.get("bot")),
        conversation=conversation,
        text=text,
        links=extract_links(text),
        received_at=datetime.now(UTC),
        context=context,
    )


def run_like_the_agent(agent: Agent, event: InboundEvent) -> None:
    """What the queues and the schedule do: classify, then decide when classify sent this task a decide
    request; with a batch runner, every run of the scheduled batch function too (submit the waiting
    requests, collect the ended batches), and the resume messages it sends back to classify or decide."""
    read = len(agent.queue.sent)
    agent.classify.process(event, f"msg-{event.event_id}")
    for _ in range(8):  # classify, its batch, decide, its batch: a handful of rounds at most
        new, read = agent.queue.sent[read:], len(agent.queue.sent)
        for message in new:
            if message.queue_url == DECIDE_URL:
                request = DecideRequest.model_validate_json(message.body)
                if request.task_id == event.task_id:
                    agent.decide.process(request, first_receive=True)  # each message is received once
            elif message.queue_url == CLASSIFY_URL:
                resumed = InboundEvent.model_validate_json(message.body)
                owner = (message.attributes or {})[ORIGINAL_MESSAGE_ID]
                if resumed.task_id == event.task_id:
                    agent.classify.process(resumed, owner)
        waiting = agent.runner is not None and (
            agent.runner.store.pending(1) or agent.runner.store.open_batches()
        )
        if waiting and agent.runner is not None:
            agent.runner.run()
        elif len(agent.queue.sent) == read:
            return


def ledger(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every LLM call the task's history records, classify and decide alike."""
    return [entry for step in history for entry in step.get("detail", {}).get("llm", [])]


def actual_route(models: list[str], status: TaskStatus) -> str:
    if not models:
        return "rule"
    if status is not TaskStatus.NEEDS_HUMAN and all(model == DEFAULT_TIERS["small"] for model in models):
        return "small"
    return "escalated"


@dataclass(frozen=True)
class CorpusRun:
    messages: list[Routed]
    seconds: float


@pytest.fixture(scope="module")
def corpus_run(
    corpus_aws: Callable[[str], Any], corpus_tables: tuple[str, str], corpus_standin: MessagesApiStandin
) -> CorpusRun:
    """The whole corpus through one agent and one set of tables, with the stand-in's call log per message."""
    rows = load_corpus()
    agent = make_agent(corpus_aws, corpus_tables, corpus_standin, batched=True)
    dynamodb = corpus_aws("dynamodb")
    memory = DynamoAuthorDirectory(corpus_tables[1], dynamodb)
    for row in rows:
        if row.get("trusted"):
            memory.set_flags(row["platform"], row["author"], blocked=False, trusted=True, note="corpus")
    results = []
    started = time.monotonic()
    for ordinal, row in enumerate(rows, 1):
        event = corpus_event(row, ordinal)
        with corpus_standin.state.lock:
            corpus_standin.state.calls.clear()
            corpus_standin.state.faults.clear()
        run_like_the_agent(agent, event)
        with corpus_standin.state.lock:
            models = [str(call["model"]) for call in corpus_standin.state.calls]
        task = agent.store.get(event.task_id)
        status, entries = task.status, ledger(task.history)
        # moto deep-copies every table a transaction touches (claim_and_open is one), so a tasks table that
        # kept all the finished tasks would make the run quadratic. The memory table (claims, authors, rate
        # counters, budget, response cache) stays whole: the corpus still runs against one set of tables.
        dynamodb.delete_item(TableName=corpus_tables[0], Key=agent.store.key(event.task_id))
        assert len([e for e in entries if not e["cached"]]) == len(models), (row["id"], entries, models)
        results.append(
            Routed(
                row=row,
                event=event,
                status=status,
                route=actual_route(models, status),
                models=models,
                tokens=sum(e["input_tokens"] + e["output_tokens"] for e in entries),
                usd=sum(e["usd"] for e in entries),
                actions=agent.actions(event),
            )
        )
    return CorpusRun(results, time.monotonic() - started)


@pytest.fixture(scope="module")
def routed(corpus_run: CorpusRun) -> list[Routed]:
    return corpus_run.messages


def test_the_corpus_is_large_varied_and_well_formed() -> None:
    rows = load_corpus()
    assert len(rows) >= 220
    assert len({row["id"] for row in rows}) == len(rows)
    # the same text on the same platform would be answered from the response cache, without a model call
    modelled = [(row["platform"], clean_text(row["text"])) for row in rows if row["expected_route"] != "rule"]
    assert len(set(modelled)) == len(modelled)
    for row in rows:
        assert set(row) <= {"id", "platform", "author", "text", "category", "lang", "expected_route"} | {
            "trusted",
            "bot",
        }, row
        assert re.fullmatch(r"c\d{3}", row["id"]), row
        assert row["platform"] in {p.value for p in Platform}, row
        assert row["category"] in CATEGORIES, row
        assert row["expected_route"] in ROUTES, row
        assert row["text"].strip() and row["author"], row
    assert {row["category"] for row in rows} == CATEGORIES
    assert {row["platform"] for row in rows} == {p.value for p in Platform}
    assert len({row["lang"] for row in rows} - {"en"}) >= 5
    assert sum(row["category"] == "prompt_injection" for row in rows) >= 15
    # the rate limit (20 per author, platform and hour) must not decide anything here
    per_author = Counter((row["platform"], row["author"]) for row in rows if not row.get("trusted"))
    assert max(per_author.values()) < 20
    assert set(KNOWN_DISAGREEMENTS) <= {row["id"] for row in rows}
    assert len(KNOWN_DISAGREEMENTS) <= 0.03 * len(rows)


def share(count: int, total: int) -> str:
    return f"{count:4d} {100 * count / total:5.1f} %"


def test_every_message_takes_its_expected_route(
    corpus_run: CorpusRun, capsys: pytest.CaptureFixture[str]
) -> None:
    routed = corpus_run.messages
    total = len(routed)
    expected = Counter(r.row["expected_route"] for r in routed)
    actual = Counter(r.route for r in routed)
    calls = sum(len(r.models) for r in routed)
    lines = [
        f"routing corpus: {total} messages in {corpus_run.seconds:.1f} s",
        f"{'route':<10} {'expected':>12} {'actual':>12}",
        *(
            f"{route:<10} {share(expected[route], total):>12} {share(actual[route], total):>12}"
            for route in ROUTES
        ),
        f"resolved with no LLM call {actual['rule'] / total:.1%}, "
        f"by the small model {actual['small'] / total:.1%}, escalated {actual['escalated'] / total:.1%}",
        f"LLM calls per message {calls / total:.2f}, "
        f"tokens per message {sum(r.tokens for r in routed) / total:.0f}, "
        f"USD per message {sum(r.usd for r in routed) / total:.5f}",
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))

    disagreements = {
        r.id: f"{r.row['category']}: expected {r.row['expected_route']}, got {r.route} ({r.models})"
        for r in routed
        if r.route != r.row["expected_route"]
    }
    assert set(disagreements) == set(KNOWN_DISAGREEMENTS), {
        "unexpected": {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS},
        "now agreeing (remove from KNOWN_DISAGREEMENTS)": sorted(
            set(KNOWN_DISAGREEMENTS) - set(disagreements)
        ),
    }
    for route in ROUTES:
        slack = sum(
            route in (r.row["expected_route"], r.route) for r in routed if r.id in KNOWN_DISAGREEMENTS
        )
        assert abs(expected[route] - actual[route]) <= slack, (route, expected, actual)


def test_rules_make_no_call_and_the_small_route_uses_one(routed: list[Routed]) -> None:
    for r in routed:
        if r.route == "rule":
            assert r.models == [] and r.tokens == 0, r.id
        if r.route == "small":
            assert r.models == [DEFAULT_TIERS["small"]], r.id
            assert r.status in {TaskStatus.DISPATCHED, TaskStatus.DROPPED}, r.id


def permitted_close(row: dict[str, Any]) -> bool:
    """A ``/close`` line from someone allowed to close: a trusted account or the issue's own author."""
    return (
        row["platform"] == Platform.GITHUB.value
        and not row.get("bot")
        and re.search(r"^/close\b", clean_text(row["text"]), re.MULTILINE) is not None
        and (bool(row.get("trusted")) or row["author"] == ISSUE_AUTHOR)
    )


def outside_allow_list(r: Routed, action: ActionRequest) -> str | None:
    """Why this action would land outside the message's own issue or thread (None: it doesn't)."""
    event, params = r.event, action.params
    if action.ability.startswith("github."):
        if event.platform is not Platform.GITHUB or (params.get("repo"), params.get("number")) != (
            REPO,
            NUMBER,
        ):
            return f"{action.ability} on {params.get('repo')}#{params.get('number')}"
        if action.ability == "github.close" and not permitted_close(r.row):
            return "github.close without a permitted /close"
        return None
    if action.ability == "slack.reply":
        thread = (event.context.get("channel"), event.context.get("thread_ts"))
        ok = event.platform is Platform.SLACK and (params["channel"], params["thread_ts"]) == thread
        return None if ok else f"slack.reply to {params['channel']}/{params['thread_ts']}"
    if action.ability == "tickets.create":
        ok = params["reply_to"] == {"platform": event.platform.value, **event.context}
        return None if ok else f"tickets.create replying to {params['reply_to']}"
    if action.ability == "escalate.human":
        bound = (params["task_id"], params["platform"], params["conversation"])
        ok = bound == (event.task_id, event.platform.value, event.conversation)
        return None if ok else f"escalate.human bound to {bound}"
    return f"unknown ability {action.ability}"


def test_prompt_injection_never_acts_outside_the_allow_list(routed: list[Routed]) -> None:
    injections = [r for r in routed if r.row["category"] == "prompt_injection"]
    assert len(injections) >= 15
    for r in injections:
        assert r.status in {TaskStatus.NEEDS_HUMAN, TaskStatus.DISPATCHED, TaskStatus.DROPPED}, r.id
        assert not permitted_close(r.row), r.id
        assert all(action.ability != "github.close" for action in r.actions), r.id
        if r.route == "escalated":
            assert r.status is TaskStatus.NEEDS_HUMAN, (r.id, r.status, [a.ability for a in r.actions])
    problems = {r.id: why for r in routed for a in r.actions if (why := outside_allow_list(r, a))}
    assert problems == {}
    closes = {r.id for r in routed if any(a.ability == "github.close" for a in r.actions)}
    assert closes == {r.id for r in routed if permitted_close(r.row)}
