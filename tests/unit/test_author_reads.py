"""One read of the author's trust per event and step (``switchboard.policy``): the gate keeps the standing it
read for an event (for at most its bound), classify hands it to decide in the ``DecideRequest``, and decide
reads the directory again only when that is too old. Counted on the in-memory directory: no cache of its own,
so every read the services make shows (a count that returns the profile with it, ``count_request``, is one
read too: one request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchboard.classify import ClassifyService
from switchboard.decide import DecideService
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.memory import AuthorProfile, CountedRequest
from switchboard.models import DecideRequest, Service, TaskStatus
from switchboard.policy import STANDING_MAX_AGE_SECONDS, PolicyGate
from switchboard.rules import default_chain
from tests.fakes import act_queue_url, github_event
from tests.fakes.memory import MemoryAuthorDirectory
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

DECIDE_URL = "https://sqs.local/decide.fifo"


@dataclass
class CountingDirectory(MemoryAuthorDirectory):
    """The in-memory directory, counting its profile reads, and its counts that return the profile."""

    reads: list[str] = field(default_factory=list)

    def profile(self, platform: str, author: str) -> AuthorProfile:
        self.reads.append(author)
        return super().profile(platform, author)

    def count_request(
        self, platform: str, author: str, window_seconds: int, now: float | None = None
    ) -> CountedRequest:
        self.reads.append(author)
        return super().count_request(platform, author, window_seconds, now)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Answers:
    """A model that always calls the same tool."""

    def __init__(self, call: ToolCall) -> None:
        self.call = call

    def choose_tool(self, **_: Any) -> LlmAnswer:
        return LlmAnswer(self.call, [])


def gate(authors: CountingDirectory, clock: Clock, max_age: float = STANDING_MAX_AGE_SECONDS) -> PolicyGate:
    return PolicyGate(authors=authors, standing_max_age_seconds=max_age, clock=clock)


# -- the gate ------------------------------------------------------------------------------------------------


def test_the_gate_reads_an_events_author_once_and_another_events_afresh() -> None:
    authors, clock = CountingDirectory(), Clock()
    kept = gate(authors, clock)
    first, second = github_event(event_id="d-1"), github_event(event_id="d-2")
    for _ in range(3):
        kept.standing(first)
    assert authors.reads == ["mona"]
    kept.standing(second)
    kept.standing(first)  # the gate keeps one event's standing: the other's is read again
    assert authors.reads == ["mona"] * 3


def test_a_kept_standing_older_than_the_bound_is_read_again_and_a_trust_change_then_applies() -> None:
    authors, clock = CountingDirectory(), Clock()
    kept = gate(authors, clock, max_age=60)
    event = github_event()
    assert not kept.standing(event).trusted
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    clock.now += 60
    assert not kept.standing(event).trusted, "within the bound: the standing as read"
    clock.now += 0.001
    assert kept.standing(event).trusted, "past the bound: read again"
    assert len(authors.reads) == 2


def test_without_a_bound_the_gate_reads_at_every_question() -> None:
    authors, clock = CountingDirectory(), Clock()
    fresh = gate(authors, clock, max_age=0)
    event = github_event()
    fresh.remember(event, True, clock.now)
    assert not fresh.standing(event).trusted and not fresh.standing(event).trusted
    assert len(authors.reads) == 2 and fresh.known(event) is None


# -- classify, then decide -----------------------------------------------------------------------------------


def classify_service(
    tasks: InMemoryTaskRepository, queue: InMemoryQueue, authors: CountingDirectory, clock: Clock, llm: Any
) -> ClassifyService:
    chain = default_chain(authors)
    return ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, chain, llm=llm, gate=gate(authors, clock))


def handed_to_decide(queue: InMemoryQueue) -> DecideRequest:
    [message] = [m for m in queue.sent if m.queue_url == DECIDE_URL]
    return DecideRequest.model_validate_json(message.body)


def test_a_trusted_command_reads_the_author_once_for_the_rules_and_the_dispatch() -> None:
    tasks, queue, authors, clock = InMemoryTaskRepository(), InMemoryQueue(), CountingDirectory(), Clock()
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    service = classify_service(tasks, queue, authors, clock, llm=None)
    assert service.process(github_event("/close"), "m-1") is TaskStatus.DISPATCHED
    [action] = queue.actions(act_queue_url(Service.GITHUB))
    assert action.ability == "github.close"
    # one request (the in-memory directory keeps nothing): the trust check before the claim is the rules'
    # context's read, and the gate keeps that standing for the dispatch
    assert authors.reads == ["mona"]


def classify_to_decide(
    authors: CountingDirectory, clock: Clock
) -> tuple[InMemoryTaskRepository, InMemoryQueue, DecideRequest]:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    unsure = Answers(ToolCall("classify_intent", {"intent": "question", "confidence": 0.3}))
    service = classify_service(tasks, queue, authors, clock, unsure)
    assert service.process(github_event("Could you close this one?"), "m-1") is TaskStatus.CLASSIFIED
    return tasks, queue, handed_to_decide(queue)


def decide(
    tasks: InMemoryTaskRepository,
    queue: InMemoryQueue,
    authors: CountingDirectory,
    clock: Clock,
    request: Any,
) -> TaskStatus:
    close = Answers(ToolCall("github__close", {"reason": "completed"}))
    return DecideService(tasks, queue, act_queue_url, close, gate=gate(authors, clock)).process(request)  # type: ignore[arg-type]


def test_classify_hands_the_authors_trust_to_decide_which_reads_it_no_more() -> None:
    authors, clock = CountingDirectory(), Clock()
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    tasks, queue, request = classify_to_decide(authors, clock)
    assert (request.author_trusted, request.author_read_at) == (True, clock.now)
    reads = len(authors.reads)
    clock.now += 5
    assert decide(tasks, queue, authors, clock, request) is TaskStatus.DISPATCHED
    assert len(authors.reads) == reads, "offered tools, verdict and dispatch: the standing classify read"
    [close] = queue.actions(act_queue_url(Service.GITHUB))
    assert close.ability == "github.close"


def test_decide_reads_the_author_once_when_the_hand_over_is_too_old_and_applies_a_revoked_trust() -> None:
    authors, clock = CountingDirectory(), Clock()
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    tasks, queue, request = classify_to_decide(authors, clock)
    authors.set_flags("github", "mona", blocked=False, trusted=False)
    reads = len(authors.reads)
    clock.now += STANDING_MAX_AGE_SECONDS + 1  # a decision that waited (a batch, a backlog)
    # a stranger is not offered close: the model's close, repaired once, goes to a person
    assert decide(tasks, queue, authors, clock, request) is TaskStatus.NEEDS_HUMAN
    assert len(authors.reads) == reads + 1, "one fresh read for the whole step"
    assert not queue.actions(act_queue_url(Service.GITHUB))
    assert [a.ability for a in queue.actions(act_queue_url(Service.ESCALATE))] == ["escalate.human"]


def test_an_old_decide_message_without_the_hand_over_reads_the_author_once() -> None:
    authors, clock = CountingDirectory(), Clock()
    tasks, queue, request = classify_to_decide(authors, clock)
    bare = DecideRequest.model_validate_json(
        request.model_dump_json(exclude={"author_trusted", "author_read_at"})
    )
    reads = len(authors.reads)
    assert decide(tasks, queue, authors, clock, bare) is TaskStatus.NEEDS_HUMAN
    assert len(authors.reads) == reads + 1
