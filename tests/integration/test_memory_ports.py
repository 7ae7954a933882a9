"""One contract, two implementations: each memory-table port's DynamoDB adapter (on moto server, through the
real boto3 client) and its in-memory twin (``tests/fakes/memory.py``) must give the same answers, so the
unit tests that run on the twins say something about production."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.dynamo import (
    DynamoAuthorDirectory,
    DynamoBreakerStore,
    DynamoBudgetLedger,
    DynamoCursorStore,
    DynamoLlmCache,
    DynamoReportStore,
    DynamoSeenLog,
    Keys,
)
from switchboard.dynamo.breaker import CLOSED_MAX_AGE_SECONDS
from switchboard.errors import BudgetExceeded, DependencyRefused, DependencyUnavailable
from switchboard.memory import AuthorProfile, BreakerRecord, BreakerState, CountedRequest
from switchboard.models import Platform
from switchboard.ports import (
    AuthorDirectory,
    BreakerStore,
    BudgetLedger,
    CursorStore,
    LlmCache,
    ReportStore,
    SeenLog,
)
from switchboard.sqs import SqsQueueSender
from switchboard.state import TaskStore
from tests.fakes import github_event
from tests.fakes.memory import (
    FakeClock,
    MemoryAuthorDirectory,
    MemoryBreakerStore,
    MemoryBudgetLedger,
    MemoryCursorStore,
    MemoryLlmCache,
    MemoryReportStore,
    MemorySeenLog,
)


@dataclass
class Ports:
    clock: FakeClock
    seen: SeenLog
    authors: AuthorDirectory
    budget: BudgetLedger
    cache: LlmCache
    breakers: BreakerStore
    cursors: CursorStore
    reports: ReportStore
    #: Another process's ledger on the same storage (a redelivery, the next function, a concurrent worker).
    another_budget: Callable[[], BudgetLedger]


@pytest.fixture(params=["dynamodb", "in-memory"])
def ports(request: pytest.FixtureRequest) -> Ports:
    clock = FakeClock()
    if request.param == "in-memory":
        budget = MemoryBudgetLedger(clock)
        return Ports(
            clock,
            MemorySeenLog(7, clock),
            MemoryAuthorDirectory(clock),
            budget,
            MemoryLlmCache(clock),
            MemoryBreakerStore(),
            MemoryCursorStore(),
            MemoryReportStore(),
            lambda: MemoryBudgetLedger(clock, budget.tokens, budget.micro_usd),
        )
    aws: Callable[[str], Any] = request.getfixturevalue("aws")
    memory = request.getfixturevalue("tables")[1]
    dynamodb = aws("dynamodb")
    return Ports(
        clock,
        DynamoSeenLog(memory, 7, dynamodb, clock, tasks_table=request.getfixturevalue("tables")[0]),
        DynamoAuthorDirectory(memory, dynamodb, clock),
        DynamoBudgetLedger(memory, dynamodb, clock),
        DynamoLlmCache(memory, dynamodb, clock),
        DynamoBreakerStore(memory, dynamodb),
        DynamoCursorStore(memory, dynamodb, clock),
        DynamoReportStore(memory, 90, dynamodb, clock),
        lambda: DynamoBudgetLedger(memory, dynamodb, clock),
    )


def test_a_deliverys_first_sight_marks_it_and_a_later_one_answers_when(ports: Ports) -> None:
    first = ports.clock.now
    assert ports.seen.first_sight("github", "d-1") is None
    ports.clock.now += 42.5
    assert ports.seen.first_sight("github", "d-1") == first  # the earlier mark's time, from the same write
    assert ports.seen.first_sight("github", "d-1") == first  # a failed condition wrote nothing
    assert ports.seen.first_sight("slack", "d-1") is None  # the platform is part of the identity


def test_a_forgotten_mark_makes_the_next_sight_a_first_one(ports: Ports) -> None:
    ports.seen.first_sight("github", "d-1")
    ports.seen.forget("github", "d-1")
    assert ports.seen.first_sight("github", "d-1") is None
    ports.seen.forget("github", "d-2")  # no mark: nothing to forget, no error


def test_the_seen_log_reads_the_classifiers_claims(
    aws: Callable[[str], Any], tables: tuple[str, str]
) -> None:
    tasks, memory = tables
    dynamodb = aws("dynamodb")
    seen = DynamoSeenLog(memory, 7, dynamodb, tasks_table=tasks)
    store = TaskStore(tasks, memory, dynamodb=dynamodb)
    assert not seen.claimed(github_event(event_id="d-9", content_id="comment-9"))
    store.claim_and_open(github_event(event_id="d-9"), owner="m-1")
    assert seen.claimed(github_event(event_id="d-9"))
    assert not seen.claimed(github_event(event_id="d-9").model_copy(update={"platform": Platform.SLACK}))
    # another delivery id of the same logical event: the same task
    store.claim_and_open(github_event(event_id="d-10", content_id="comment-10"), owner="m-2")
    assert seen.claimed(github_event(event_id="d-11", content_id="comment-10"))
    assert not seen.claimed(github_event(event_id="d-11"))
    # claims an earlier version wrote (before 2026-12-03), by delivery id and by content id
    for key in (Keys.claim("github", "d-12"), Keys.content_claim("github", "comment-13")):
        dynamodb.put_item(TableName=memory, Item={**key, "task_id": {"S": "tsk_old"}})
    assert seen.claimed(github_event(event_id="d-12", content_id="comment-12"))
    assert seen.claimed(github_event(event_id="d-14", content_id="comment-13"))
    assert not seen.claimed(github_event(event_id="d-14", content_id="comment-14"))


def test_an_author_has_flags_and_counts_per_window(ports: Ports) -> None:
    assert ports.authors.profile("github", "mona") == AuthorProfile()
    ports.authors.set_flags("github", "mona", blocked=True, trusted=False, note="spam")
    assert ports.authors.profile("github", "mona") == AuthorProfile(blocked=True, trusted=False, note="spam")
    assert ports.authors.profile("slack", "mona") == AuthorProfile()

    start = 1_000_020.0  # a window of 60 s starts at 1_000_020
    count = ports.authors.count_request
    counts = [count("github", "octocat", 60, now=start + offset).count for offset in (0, 30, 59)]
    assert counts == [1, 2, 3]
    assert count("github", "octocat", 60, now=start + 60).count == 1  # the next window
    assert count("github", "hubot", 60, now=start).count == 1
    assert count("slack", "octocat", 60, now=start + 60).count == 1


def test_a_count_answers_with_the_profile_and_leaves_trusted_and_blocked_authors_uncounted(
    ports: Ports,
) -> None:
    start = 1_000_020
    count = ports.authors.count_request
    assert count("github", "mona", 60, now=start) == CountedRequest(
        "github", "mona", start, AuthorProfile(), 1
    )
    ports.authors.set_flags("github", "mona", blocked=False, trusted=True, note="maintainer")
    trusted = count("github", "mona", 60, now=start + 1)
    assert (trusted.profile, trusted.count) == (AuthorProfile(trusted=True, note="maintainer"), None)
    ports.authors.set_flags("github", "mona", blocked=True, trusted=False)
    assert count("github", "mona", 60, now=start + 2).count is None
    assert count("github", "mona", 60, now=start + 2).profile.blocked
    # flags set after counts keep them: the window goes on where it was
    ports.authors.set_flags("github", "mona", blocked=False, trusted=False, note="appeal granted")
    again = count("github", "mona", 60, now=start + 3)
    assert (again.profile, again.count) == (AuthorProfile(note="appeal granted"), 2)
    assert ports.authors.profile("github", "mona") == AuthorProfile(note="appeal granted")


def test_a_given_back_request_frees_its_place_in_its_own_window_only(ports: Ports) -> None:
    start = 1_000_020
    count = ports.authors.count_request
    assert count("github", "mona", 60, now=start).count == 1
    duplicate = count("github", "mona", 60, now=start + 1)
    assert duplicate.count == 2
    ports.authors.give_back(duplicate)
    assert count("github", "mona", 60, now=start + 2).count == 2  # the duplicate's place, taken again
    ended = count("github", "mona", 60, now=start + 3)
    assert count("github", "mona", 60, now=start + 60).count == 1  # the next window
    ports.authors.give_back(ended)  # its window is over: nothing to take back from the next one
    assert count("github", "mona", 60, now=start + 61).count == 2
    ports.authors.set_flags("github", "hubot", blocked=False, trusted=True)
    uncounted = count("github", "hubot", 60, now=start + 61)
    ports.authors.give_back(uncounted)  # counted nothing: gives back nothing
    ports.authors.set_flags("github", "hubot", blocked=False, trusted=False)
    assert count("github", "hubot", 60, now=start + 62).count == 1


def test_an_action_is_counted_once_per_window_and_a_full_window_counts_no_more(ports: Ports) -> None:
    start = 1_800_000_000 // 60 * 60
    count = ports.authors.count_once
    assert [count("github-acts", "mona", 60, f"t#{n}", 3, now=start) for n in range(3)] == [1, 2, 3]
    assert (
        count("github-acts", "mona", 60, "t#1", 3, now=start + 1) <= 3
    )  # a retry: allowed again, not counted
    assert count("github-acts", "mona", 60, "t#9", 3, now=start + 2) == 4  # over: refused
    assert count("github-acts", "mona", 60, "t#9", 3, now=start + 3) == 4  # and not remembered
    assert count("github-acts", "mona", 60, "t#0", 3, now=start + 4) <= 3
    assert count("github-acts", "mona", 60, "t#9", 3, now=start + 60) == 1  # the next window


def test_a_budget_reservation_takes_both_counters_or_neither(ports: Ports) -> None:
    caps = {"token_cap": 250, "micro_usd_cap": 5_000}
    day = "2026-11-22"
    ports.budget.reserve("t1", day, 100, 1_000, **caps)
    ports.budget.reserve("t1", day, 100, 1_000, **caps)
    assert ports.budget.spent_micro_usd(day) == 2_000
    with pytest.raises(BudgetExceeded) as over_task:
        ports.budget.reserve("t1", day, 100, 1_000, **caps)  # 300 tokens > 250
    assert over_task.value.which == "task_tokens"
    assert ports.budget.spent_micro_usd(day) == 2_000  # the day's counter was not touched

    with pytest.raises(BudgetExceeded) as too_big:
        ports.budget.reserve("t-big", day, 251, 1, **caps)  # more than the cap on a first write
    assert too_big.value.which == "task_tokens"

    with pytest.raises(BudgetExceeded) as over_day:
        ports.budget.reserve("t2", day, 10, 4_000, **caps)  # 6_000 µ$ > 5_000
    assert over_day.value.which == "daily_usd"
    ports.budget.reserve("t2", day, 250, 0, **caps)  # t2's 10 tokens were given back: 250 fit
    ports.budget.reserve("t-big", day, 250, 0, **caps)  # and the refused first write wrote nothing

    ports.budget.settle("t1", day, -150, -1_500)  # the calls used less than reserved
    assert ports.budget.spent_micro_usd(day) == 500
    ports.budget.reserve("t1", day, 200, 0, **caps)  # 50 + 200 tokens fit again
    ports.budget.settle("t1", day, 0, 0)
    assert ports.budget.spent_micro_usd("2026-11-23") == 0  # another day, another counter


def test_a_settlement_rides_on_the_next_reservation_and_a_lost_one_only_overcounts(ports: Ports) -> None:
    day, caps = "2026-11-22", {"token_cap": 20_000, "micro_usd_cap": 10_000}
    ports.budget.reserve("t1", day, 15_000, 6_000, **caps)
    ports.budget.settle("t1", day, -6_000, -4_000)  # it used 9,000 tokens and 2,000 µ$
    assert (ports.budget.spent_tokens("t1"), ports.budget.spent_micro_usd(day)) == (9_000, 2_000)
    other = ports.another_budget()  # no correction was written: another process sees the reservation
    assert (other.spent_tokens("t1"), other.spent_micro_usd(day)) == (15_000, 6_000)
    # this ledger's next reservation is checked as the counter stands settled: 9,000 + 11,000 fit
    ports.budget.reserve("t1", day, 11_000, 8_000, **caps)
    assert (other.spent_tokens("t1"), other.spent_micro_usd(day)) == (20_000, 10_000)
    ports.budget.settle("t1", day, 0, 0)
    with pytest.raises(BudgetExceeded) as refused:
        ports.budget.reserve("t1", day, 1, 0, **caps)
    assert refused.value.which == "task_tokens"


def test_a_redelivered_task_sees_what_it_spent_and_its_cap_still_refuses(ports: Ports) -> None:
    day, caps = "2026-11-22", {"token_cap": 20_000, "micro_usd_cap": 1_000_000}
    ports.budget.reserve("t1", day, 12_000, 100, **caps)
    ports.budget.settle("t1", day, -3_000, -50)  # used 9,000; the process then ends, its carry lost
    redelivered = ports.another_budget()
    assert redelivered.spent_tokens("t1") >= 9_000  # never reset to zero (here: the 12,000 reserved)
    with pytest.raises(BudgetExceeded) as refused:
        redelivered.reserve("t1", day, 11_001, 100, **caps)  # 9,000 spent + 11,001 > 20,000 in any case
    assert refused.value.which == "task_tokens"
    redelivered.reserve("t1", day, 8_000, 100, **caps)  # fits even the overcounted 12,000
    with pytest.raises(BudgetExceeded):
        redelivered.reserve("t1", day, 1, 0, **caps)  # the counter is at its cap


def test_a_leased_day_counter_takes_calls_from_the_lease_and_refuses_exactly_at_the_cap(ports: Ports) -> None:
    day, caps = "2026-11-22", {"token_cap": 10**6, "micro_usd_cap": 10_000, "lease_micro_usd": 4_000}
    other = ports.another_budget()
    ports.budget.reserve("t1", day, 1, 1_000, **caps)
    assert (ports.budget.spent_micro_usd(day), other.spent_micro_usd(day)) == (1_000, 4_000)
    ports.budget.settle("t1", day, 0, -500)  # the rest stays in the lease
    ports.budget.reserve("t2", day, 1, 3_500, **caps)  # 3,000 + 500 left: covered, nothing more stored
    assert (ports.budget.spent_micro_usd(day), other.spent_micro_usd(day)) == (4_000, 4_000)
    other.reserve("t3", day, 1, 5_000, **caps)  # bigger than a lease: its own worst case
    ports.budget.reserve("t4", day, 1, 1_000, **caps)  # a full lease does not fit; the call does, exactly
    assert ports.another_budget().spent_micro_usd(day) == 10_000
    for ledger in (ports.budget, other):
        with pytest.raises(BudgetExceeded) as refused:
            ledger.reserve("t5", day, 1, 1, **caps)
        assert refused.value.which == "daily_usd"
    assert ports.another_budget().spent_micro_usd(day) == 10_000


def test_concurrent_reservers_never_pass_the_day_cap(ports: Ports) -> None:
    """Six processes reserving at once, each settling every call at half its reservation: the stored day
    counter never passes the cap, so neither does what they really committed (it is lower)."""
    day, cap = "2026-11-22", 60_000
    ledgers = [ports.another_budget() for _ in range(6)]
    accepted: list[int] = []
    refusals: list[str] = []

    def worker(n: int) -> None:
        for call in range(8):
            try:
                ledgers[n].reserve(f"t{n}-{call}", day, 10, 3_000, token_cap=100, micro_usd_cap=cap)
            except BudgetExceeded as exc:
                refusals.append(exc.which)
                continue
            ledgers[n].settle(f"t{n}-{call}", day, -5, -1_500)
            accepted.append(1_500)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(ledgers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = ports.another_budget().spent_micro_usd(day)
    assert stored <= cap
    committed = sum(accepted)  # all settled: what they spent
    assert committed <= stored  # the unwritten corrections (one per process at most) overcount
    assert stored - committed <= len(ledgers) * 1_500
    assert accepted  # some were accepted
    assert refusals and set(refusals) == {"daily_usd"}  # and the others refused by the day's cap


def test_a_cached_call_is_served_until_its_ttl(ports: Ports) -> None:
    call = {"name": "classify", "input": {"intent": "bug", "confidence": 0.9}}
    assert ports.cache.get("k") is None
    ports.cache.put("k", call, 60)
    assert ports.cache.get("k") == call
    ports.clock.now += 60
    assert ports.cache.get("k") == call
    ports.clock.now += 1
    assert ports.cache.get("k") is None


def test_the_breaker_moves_only_when_its_condition_holds(ports: Ports) -> None:
    store = ports.breakers
    assert store.read("github") == BreakerRecord()
    assert store.count_failure("github", 1_000.0, 60) == 1  # a new window
    assert store.count_failure("github", 1_010.5, 60) == 2
    assert store.count_failure("github", 1_070.0, 60) == 1  # the window that began at 1000 is over
    record = store.read("github")
    assert (record.state, record.failures, record.window_start) == (BreakerState.CLOSED, 1.0, 1_070.0)

    assert store.open("github", 1_071.0, 1_101.0, from_state=BreakerState.HALF_OPEN) is False  # it is closed
    assert store.open("github", 1_071.0, 1_101.0, from_state=BreakerState.CLOSED) is True
    opened = store.read("github")
    assert (opened.state, opened.open_until, opened.failures) == (BreakerState.OPEN, 1_101.0, 0.0)
    assert opened.version > record.version
    assert store.count_failure("github", 1_072.0, 60) is None  # not counted while open
    assert store.open("github", 1_072.0, 1_102.0, from_state=BreakerState.CLOSED) is False  # opened already

    assert store.start_probe("github", opened.version - 1, 1_131.0) is False  # a stale read
    assert store.start_probe("github", opened.version, 1_131.0) is True
    assert store.start_probe("github", opened.version, 1_131.0) is False  # the other worker lost the race
    probing = store.read("github")
    assert (probing.state, probing.probe_until) == (BreakerState.HALF_OPEN, 1_131.0)

    assert store.close("github", 1_105.25) is True
    assert store.close("github", 1_105.25) is False  # closed already
    closed = store.read("github")
    assert (closed.state, closed.failures, closed.window_start) == (BreakerState.CLOSED, 0.0, 1_105.25)
    assert (closed.open_until, closed.probe_until) == (None, None)
    assert store.read("slack") == BreakerRecord()


def test_a_failed_probe_reopens_only_a_half_open_breaker(ports: Ports) -> None:
    store = ports.breakers
    assert store.count_failure("tickets", 10.0, 60) == 1
    assert store.open("tickets", 10.0, 40.0, from_state=BreakerState.CLOSED)
    assert store.open("tickets", 41.0, 71.0, from_state=BreakerState.HALF_OPEN) is False  # nobody probes
    assert store.start_probe("tickets", store.read("tickets").version, 71.0)
    assert store.open("tickets", 42.0, 72.0, from_state=BreakerState.HALF_OPEN) is True
    reopened = store.read("tickets")
    assert (reopened.state, reopened.open_until, reopened.probe_until) == (BreakerState.OPEN, 72.0, None)


def test_a_feed_keeps_its_latest_cursor(ports: Ports) -> None:
    assert ports.cursors.get("mentions") is None
    ports.cursors.put("mentions", "c-1")
    ports.cursors.put("mentions", "c-2")
    assert ports.cursors.get("mentions") == "c-2"
    assert ports.cursors.get("other") is None


def test_triage_reports_are_kept_per_day_in_order(ports: Ports) -> None:
    late = {"at": "2026-11-22T07:00:00+00:00", "total": 2, "categories": []}
    early = {"at": "2026-11-22T06:00:00+00:00", "total": 1, "categories": []}
    for report in (late, early, {"at": "2026-11-23T06:00:00+00:00", "total": 0, "categories": []}):
        ports.reports.save(str(report["at"]), report)
    assert ports.reports.on("2026-11-22") == [early, late]
    assert [r["total"] for r in ports.reports.on("2026-11-23")] == [0]
    assert ports.reports.on("2026-11-21") == []


# -- what leaves the adapters when AWS itself fails ----------------------------------------------------------


def test_a_missing_table_is_a_refusal_not_a_boto_error(aws: Callable[[str], Any]) -> None:
    with pytest.raises(DependencyRefused) as refused:
        DynamoSeenLog("no-such-table", 7, aws("dynamodb"), tasks_table="t").first_sight("github", "d-1")
    assert (refused.value.service, refused.value.operation) == ("dynamodb", "PutItem")
    assert refused.value.code == "ResourceNotFoundException"


def test_an_unreachable_dynamodb_is_unavailable(tables: tuple[str, str]) -> None:
    import socket

    import boto3
    from botocore.config import Config

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(DependencyUnavailable) as unavailable:
        DynamoCursorStore(tables[1], client).put("mentions", "c-1")
    assert unavailable.value.operation == "PutItem"


def test_a_send_to_a_missing_queue_is_a_refusal(aws: Callable[[str], Any]) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="gone.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(DependencyRefused) as refused:
        SqsQueueSender(sqs).send(url, "{}", group_id="g", dedup_id="d")
    assert (refused.value.service, refused.value.operation) == ("sqs", "SendMessage")


def test_a_kept_profile_and_a_kept_closed_breaker_are_read_again_after_their_age(
    aws: Callable[[str], Any], tables: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapters' short-lived copies (one read per event, one per second for a closed breaker): reused
    within their age, read afresh after it, and dropped by a write through the same instance."""
    import time as time_module

    dynamodb, memory = aws("dynamodb"), tables[1]
    now = [1000.0]
    monkeypatch.setattr(time_module, "monotonic", lambda: now[0])
    kept = DynamoAuthorDirectory(memory, dynamodb, profile_max_age_seconds=1.0)
    other = DynamoAuthorDirectory(memory, dynamodb)
    assert kept.profile("github", "mona") == AuthorProfile()
    other.set_flags("github", "mona", blocked=True, trusted=False)
    assert kept.profile("github", "mona") == AuthorProfile()  # within its age: the copy
    now[0] += 1.5
    assert kept.profile("github", "mona").blocked  # after it: read again
    kept.set_flags("github", "mona", blocked=False, trusted=True)
    assert kept.profile("github", "mona").trusted  # its own write dropped the copy

    breaker = DynamoBreakerStore(memory, dynamodb, closed_max_age_seconds=1.0)
    opener = DynamoBreakerStore(memory, dynamodb)
    assert breaker.count_failure("github", 1.0, 60) == 1
    assert breaker.read("github").state is BreakerState.CLOSED
    assert opener.open("github", 2.0, 100.0, from_state=BreakerState.CLOSED)
    assert breaker.read("github").state is BreakerState.CLOSED  # within its age: the copy
    now[0] += 1.5
    assert breaker.read("github").state is BreakerState.OPEN  # after it: read again, and not kept
    assert breaker.start_probe("github", breaker.read("github").version, 200.0)
    assert breaker.read("github").state is BreakerState.HALF_OPEN


def test_a_kept_closed_breaker_sees_another_workers_opening_at_its_own_next_failure(
    aws: Callable[[str], Any], tables: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The act workers keep a closed breaker for ``CLOSED_MAX_AGE_SECONDS``; the bound holds because a worker
    that calls a failing service learns of another worker's opening at its next failure, not at the end of
    its copy's age: counting it is a conditional write (the breaker is not closed: nothing counted), which
    drops the copy, so its next call reads OPEN and is not made."""
    import time as time_module

    dynamodb, memory = aws("dynamodb"), tables[1]
    monkeypatch.setattr(time_module, "monotonic", lambda: 1000.0)  # the copy never ages in this test
    kept = DynamoBreakerStore(memory, dynamodb, closed_max_age_seconds=CLOSED_MAX_AGE_SECONDS)
    opener = DynamoBreakerStore(memory, dynamodb)
    assert kept.count_failure("tickets", 1.0, 60) == 1
    assert kept.read("tickets").state is BreakerState.CLOSED
    assert opener.open("tickets", 2.0, 100.0, from_state=BreakerState.CLOSED)
    assert kept.read("tickets").state is BreakerState.CLOSED  # its copy: one more call is made
    assert kept.count_failure("tickets", 3.0, 60) is None  # that call failed: not counted, not closed
    assert kept.read("tickets").state is BreakerState.OPEN  # and the next one is not made
