"""A trusted author's rule decision is written with the claim (``ClassifyService._decided_with_claim``,
``Lifecycle.dispatch_with_claim``): the task is born DISPATCHED (or DROPPED) in the claim's transaction, and
its actions are sent after that write, again on a redelivery that finds it still DISPATCHED. Anyone's drop by
the rules before the rate limit (a bot, nothing to say, a blocked author) is born DROPPED the same way."""

from __future__ import annotations

import pytest

from switchboard.act import ActService
from switchboard.classify import ClassifyService
from switchboard.lifecycle import SENT_AFTER_WRITE
from switchboard.models import InboundEvent, TaskStatus
from switchboard.rules import default_chain
from tests.fakes import FakeAuthorMemory, act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

DECIDE_URL = "https://sqs.local/decide.fifo"
GITHUB_URL = act_queue_url("github")


def classify(tasks: InMemoryTaskRepository, queue: InMemoryQueue, trusted: bool = True) -> ClassifyService:
    memory = FakeAuthorMemory(trusted={"mona"} if trusted else set())
    return ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, default_chain(memory), llm=None)


def statuses(tasks: InMemoryTaskRepository, event: InboundEvent) -> list[str]:
    return [e["status"] for e in tasks.get(event.task_id).history if "status" in e]


def test_a_trusted_authors_rule_is_born_dispatched_in_the_claim_with_no_other_write() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label bug")
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DISPATCHED
    assert tasks.writes == 0  # no transition after the claim's transaction
    assert statuses(tasks, event) == ["RECEIVED", "CLASSIFIED", "DISPATCHED"]
    task = tasks.get(event.task_id)
    dispatched = task.history[-1]["detail"]
    assert dispatched[SENT_AFTER_WRITE] is True
    assert [verdict["allowed"] for verdict in dispatched["policy"]] == [True]
    [action] = queue.actions(GITHUB_URL)
    assert [a["action_id"] for a in task.actions] == [action.action_id]


def test_the_act_worker_finishes_a_task_born_dispatched_in_one_write() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label bug")
    classify(tasks, queue).process(event, "m-1")
    [action] = queue.take(GITHUB_URL)
    assert ActService(tasks, lambda a: {"status": 200}).process(action) is TaskStatus.DONE
    assert tasks.writes == 1


def test_a_failed_send_after_the_claim_is_sent_on_the_redelivery_once() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue(fail_next=1)
    event = github_event("/label bug")
    with pytest.raises(ConnectionError):
        classify(tasks, queue).process(event, "m-1")
    assert tasks.get(event.task_id).status is TaskStatus.DISPATCHED  # written, not yet sent
    assert queue.actions() == []
    # the same message again (its visibility timeout ran out): it owns the claim, so it sends
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DISPATCHED
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DISPATCHED  # a repeat: deduplicated
    assert len(queue.actions(GITHUB_URL)) == 1
    assert tasks.writes == 0


def test_a_duplicate_of_a_task_born_dispatched_sends_nothing() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue(fail_next=1)
    event = github_event("/label bug")
    with pytest.raises(ConnectionError):
        classify(tasks, queue).process(event, "m-1")
    assert classify(tasks, queue).process(event, "m-2") is None  # another message: a duplicate, skipped
    assert queue.actions() == []


def test_a_redelivery_after_the_action_finished_sends_nothing_again() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label bug")
    classify(tasks, queue).process(event, "m-1")
    [action] = queue.take(GITHUB_URL)
    ActService(tasks, lambda a: {"status": 200}).process(action)
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DONE
    assert queue.actions() == []


def test_a_trusted_authors_drop_is_born_dropped() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("   ")  # nothing to say: the rule drops it
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DROPPED
    assert statuses(tasks, event) == ["RECEIVED", "DROPPED"]
    assert tasks.get(event.task_id).reason == "empty_text"
    assert tasks.writes == 0 and queue.sent == []


def test_an_untrusted_authors_rule_dispatches_after_the_claim_and_a_duplicate_counts_nothing() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label bug", event_id="d-1", content_id="comment-1")
    service = classify(tasks, queue, trusted=False)
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED
    assert tasks.writes == 1  # the claim opened it RECEIVED; classify and dispatch are one write after it
    assert SENT_AFTER_WRITE not in tasks.get(event.task_id).history[-1]["detail"]
    memory = service.chain.memory
    assert isinstance(memory, FakeAuthorMemory)
    counted = dict(memory.counts)
    assert counted  # the rate rule and the gate counted this author's request and action
    # the same logical event under another delivery id: skipped at the claim, before any rule counts it
    duplicate = github_event("/label bug", event_id="d-2", content_id="comment-1")
    assert service.process(duplicate, "m-2") is None
    assert memory.counts == counted
    assert len(queue.actions(GITHUB_URL)) == 1


@pytest.mark.parametrize(
    ("text", "bot", "reason"),
    [("   ", False, "empty_text"), ("Thanks, merged.", True, "author_is_bot")],
    ids=["nothing-to-say", "a-bot"],
)
def test_anyones_drop_by_the_rules_before_the_rate_limit_is_born_dropped_and_counts_nothing(
    text: str, bot: bool, reason: str
) -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event(text, event_id="d-1", content_id="comment-1").model_copy(
        update={"author_is_bot": bot}
    )
    service = classify(tasks, queue, trusted=False)
    assert service.process(event, "m-1") is TaskStatus.DROPPED
    assert statuses(tasks, event) == ["RECEIVED", "DROPPED"]
    assert tasks.get(event.task_id).reason == reason
    assert tasks.writes == 0 and queue.sent == []  # the claim's transaction wrote it all
    memory = service.chain.memory
    assert isinstance(memory, FakeAuthorMemory) and memory.counts == {}  # the rate rule was not reached
    duplicate = github_event(text, event_id="d-2", content_id="comment-1").model_copy(
        update={"author_is_bot": bot}
    )
    assert service.process(duplicate, "m-2") is None and memory.counts == {}


def test_an_untrusted_authors_spam_is_dropped_after_the_claim_and_counted() -> None:
    """The rules after the rate limit wait for the claim: its count must not be a duplicate's."""
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("Free crypto airdrop! Claim now and connect your wallet")
    service = classify(tasks, queue, trusted=False)
    assert service.process(event, "m-1") is TaskStatus.DROPPED
    assert tasks.get(event.task_id).reason == "spam"
    assert tasks.writes == 1
    memory = service.chain.memory
    assert isinstance(memory, FakeAuthorMemory) and memory.counts == {"mona": 1}


def test_a_redelivery_that_finds_its_task_past_the_rules_gives_its_count_back() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label bug")
    service = classify(tasks, queue, trusted=False)
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED
    memory = service.chain.memory
    assert isinstance(memory, FakeAuthorMemory) and memory.counts == {"mona": 1}
    # the same message again (SQS delivers at least once): its author's read counted it once more, and the
    # resume, past the rules, gives that back
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED
    assert memory.counts == {"mona": 1}
    assert len(queue.actions(GITHUB_URL)) == 1
