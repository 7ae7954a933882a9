"""The rate limit's request counts on the author's profile item (``AuthorDirectory.count_request``): one
request reads the flags and counts, a trusted or blocked author is not counted, a count removes the window
before its own and ``MAX_ENDED_WINDOWS`` bounds what longer gaps leave, a flag set keeps the counts, and
classify makes one request to the directory per event of an author who is not trusted.

The DynamoDB adapter runs on moto server through the real boto3 client, its twin in memory; the generated
sequences run on both and are checked against a plain model of what the counts must be."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from switchboard.classify import ClassifyService
from switchboard.dynamo import DynamoAuthorDirectory
from switchboard.dynamo.keys import Keys
from switchboard.dynamo.memory import MAX_ENDED_WINDOWS, WINDOW_PREFIX
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.memory import AuthorProfile, CountedRequest
from switchboard.models import InboundEvent, TaskStatus
from switchboard.policy import STANDING_MAX_AGE_SECONDS, PolicyGate
from switchboard.ports import AuthorDirectory
from switchboard.rules import RulesConfig, default_chain
from tests.fakes import act_queue_url, github_event
from tests.fakes.memory import FakeClock, MemoryAuthorDirectory
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

WINDOW = 60
FUNCTION_SCOPED = [HealthCheck.function_scoped_fixture]


class Recording:
    """A DynamoDB client that records each request: its operation and the item kind its key names."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**request: Any) -> Any:
            pk = str(request.get("Key", request.get("Item", {})).get("pk", {}).get("S", ""))
            self.requests.append((name, pk.partition("#")[0]))
            return method(**request)

        return call

    def count(self, kind: str) -> int:
        return sum(1 for _, touched in self.requests if touched == kind)


@pytest.fixture
def dynamodb(aws: Callable[[str], Any]) -> Recording:
    return Recording(aws("dynamodb"))


@pytest.fixture
def memory_table(tables: tuple[str, str]) -> str:
    return tables[1]


def window_counts(dynamodb: Recording, table: str, platform: str, author: str) -> dict[int, int]:
    """The window counts the author's profile item holds, read straight from the table."""
    item = dynamodb.client.get_item(
        TableName=table, Key=Keys.profile(platform, author), ConsistentRead=True
    ).get("Item", {})
    return {
        int(name.removeprefix(WINDOW_PREFIX)): int(value["N"])
        for name, value in item.items()
        if name.startswith(WINDOW_PREFIX)
    }


# -- generated sequences, against a model -------------------------------------------------------------------


@dataclass
class Model:
    """What the counts must be: per author the flags, and per author and window the requests counted."""

    profiles: dict[str, AuthorProfile] = field(default_factory=dict)
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)

    def count(self, author: str, now: int) -> int | None:
        profile = self.profiles.get(author, AuthorProfile())
        if profile.trusted or profile.blocked:
            return None
        self.counts[(author, now // WINDOW * WINDOW)] += 1
        return self.counts[(author, now // WINDOW * WINDOW)]


#: A step: how far the clock moves (within a window, to its edge, across one, across many), whose event, and
#: what happens: a request counted, the last one given back (a duplicate), or an operator's flags.
step = st.tuples(
    st.sampled_from([0, 1, 29, 59, 60, 61, 119, 3 * WINDOW, 40 * WINDOW]),
    st.integers(0, 2),
    st.sampled_from(["count", "count", "count", "give_back", "trust", "block", "clear"]),
)


def run_against_model(directory: AuthorDirectory, authors: list[str], steps: list[Any]) -> None:
    model, now = Model(), 1_800_000_000
    last: dict[str, CountedRequest] = {}
    for advance, who, what in steps:
        now += advance
        author = authors[who]
        if what == "count":
            counted = directory.count_request("github", author, WINDOW, now=now)
            expected = model.count(author, now)
            assert counted.count == expected, (author, now)
            assert counted.profile == model.profiles.get(author, AuthorProfile())
            assert counted.window_start == now // WINDOW * WINDOW
            last[author] = counted
        elif what == "give_back":
            given = last.pop(author, None)
            if given is not None:
                directory.give_back(given)
                if given.count is not None:
                    model.counts[(author, given.window_start)] -= 1
        else:
            flags = {"trust": (False, True), "block": (True, False), "clear": (False, False)}[what]
            directory.set_flags("github", author, blocked=flags[0], trusted=flags[1], note=what)
            model.profiles[author] = AuthorProfile(blocked=flags[0], trusted=flags[1], note=what)
        assert directory.profile("github", author) == model.profiles.get(author, AuthorProfile())


@settings(max_examples=40, deadline=None, suppress_health_check=FUNCTION_SCOPED)
@given(st.lists(step, max_size=30))
@example([(0, 0, "count"), (1, 0, "count"), (1, 0, "give_back"), (1, 0, "count"), (60, 0, "count")])
@example([(0, 0, "count"), (0, 0, "block"), (0, 0, "count"), (0, 0, "clear"), (0, 0, "count")])
def test_counts_follow_the_model_on_both_directories(
    dynamodb: Recording, memory_table: str, steps: list[Any]
) -> None:
    authors = [f"a{n}-{uuid.uuid4().hex[:8]}" for n in range(3)]  # fresh on the shared table
    run_against_model(MemoryAuthorDirectory(FakeClock()), authors, steps)
    run_against_model(DynamoAuthorDirectory(memory_table, dynamodb), authors, steps)


# -- the profile item's size --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=FUNCTION_SCOPED)
@given(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 3)), min_size=1, max_size=40))
@example([(2, 1)] * 40)  # an author back every other window, forty times
def test_an_author_back_after_any_gaps_leaves_at_most_the_bound_of_window_counts(
    dynamodb: Recording, memory_table: str, returns: list[tuple[int, int]]
) -> None:
    """Each return: that many windows later, that many requests. After every count the item holds the current
    window's count and at most ``MAX_ENDED_WINDOWS`` ended ones; the request that removes them comes at most
    once per ``MAX_ENDED_WINDOWS + 1`` returns."""
    directory = DynamoAuthorDirectory(memory_table, dynamodb)
    author, start = f"back-{uuid.uuid4().hex[:8]}", 1_800_000_000
    before = len(dynamodb.requests)
    for gap, requests in returns:
        start += gap * WINDOW
        for n in range(requests):
            assert directory.count_request("github", author, WINDOW, now=start + n).count == n + 1
            held = window_counts(dynamodb, memory_table, "github", author)
            assert held[start] == n + 1
            assert len(held) <= MAX_ENDED_WINDOWS + 1
            assert all(began <= start for began in held)
    counts = sum(requests for _, requests in returns)  # window_counts reads past the recording
    cleanups = len(dynamodb.requests) - before - counts
    assert cleanups <= len(returns) // (MAX_ENDED_WINDOWS + 1)


def test_an_author_back_in_the_next_window_leaves_nothing_of_the_last_one(
    dynamodb: Recording, memory_table: str
) -> None:
    directory = DynamoAuthorDirectory(memory_table, dynamodb)
    start = 1_800_000_000
    for n in range(5):
        directory.count_request("github", "mona", WINDOW, now=start + n * WINDOW)
    assert window_counts(dynamodb, memory_table, "github", "mona") == {start + 4 * WINDOW: 1}
    assert dynamodb.count("author") == 5, "one request each, none to tidy up"


# -- expiry, flags and the kept profile ---------------------------------------------------------------------


def expires_at(dynamodb: Recording, table: str, author: str) -> int | None:
    item = dynamodb.client.get_item(TableName=table, Key=Keys.profile("github", author))["Item"]
    return int(item["expires_at"]["N"]) if "expires_at" in item else None


def test_an_item_that_only_counts_expires_and_a_flagged_one_is_kept(
    dynamodb: Recording, memory_table: str
) -> None:
    directory = DynamoAuthorDirectory(memory_table, dynamodb)
    start = 1_800_000_000
    directory.count_request("github", "mona", WINDOW, now=start)
    assert expires_at(dynamodb, memory_table, "mona") == start + WINDOW + 86_400  # as the rate windows did
    directory.set_flags("github", "mona", blocked=True, trusted=False, note="spam")
    assert expires_at(dynamodb, memory_table, "mona") is None
    assert window_counts(dynamodb, memory_table, "github", "mona") == {start: 1}, "the block kept the count"
    assert directory.count_request("github", "mona", WINDOW, now=start + 10 * WINDOW).count is None
    assert expires_at(dynamodb, memory_table, "mona") is None, "a blocked author is not counted: kept"
    # an item written whole with its flags (an older set_flags, an operator's put): refused, untouched
    dynamodb.client.put_item(
        TableName=memory_table,
        Item={**Keys.profile("github", "hubot"), "blocked": {"BOOL": False}, "trusted": {"BOOL": True}},
    )
    counted = directory.count_request("github", "hubot", WINDOW, now=start)
    assert (counted.profile.trusted, counted.count) == (True, None)
    assert expires_at(dynamodb, memory_table, "hubot") is None


def test_a_profile_an_operator_wrote_is_counted_and_never_set_to_expire(
    dynamodb: Recording, memory_table: str
) -> None:
    """A lifted block or a note on an author neither trusted nor blocked: the counts go on, and the item
    keeps what the operator wrote (no expiry), at one more request for that author's counts."""
    directory = DynamoAuthorDirectory(memory_table, dynamodb)
    start = 1_800_000_000
    directory.set_flags("github", "mona", blocked=False, trusted=False, note="block lifted after appeal")
    before = dynamodb.count("author")
    assert [directory.count_request("github", "mona", WINDOW, now=start + n).count for n in range(3)] == [
        1,
        2,
        3,
    ]
    assert dynamodb.count("author") - before == 6  # refused with the expiry, then counted without it
    assert expires_at(dynamodb, memory_table, "mona") is None
    assert directory.profile("github", "mona").note == "block lifted after appeal"
    assert window_counts(dynamodb, memory_table, "github", "mona") == {start: 3}


def test_a_kept_trusted_or_blocked_profile_makes_no_request_and_a_kept_strangers_still_counts(
    dynamodb: Recording, memory_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as time_module

    now = [1000.0]
    monkeypatch.setattr(time_module, "monotonic", lambda: now[0])
    operator = DynamoAuthorDirectory(memory_table, dynamodb.client)
    operator.set_flags("github", "mona", blocked=False, trusted=True)
    operator.set_flags("github", "spammer", blocked=True, trusted=False)
    kept = DynamoAuthorDirectory(memory_table, dynamodb, profile_max_age_seconds=10.0)
    for author in ("mona", "spammer", "octocat"):
        kept.count_request("github", author, WINDOW)
    assert dynamodb.count("author") == 3
    assert kept.count_request("github", "mona", WINDOW).count is None
    assert kept.count_request("github", "spammer", WINDOW).count is None
    assert kept.count_request("github", "octocat", WINDOW).count == 2
    assert kept.profile("github", "octocat") == AuthorProfile()
    assert dynamodb.count("author") == 4, "the kept trusted and blocked authors: no request"
    operator.set_flags("github", "mona", blocked=False, trusted=False)
    now[0] += 10.0
    assert kept.count_request("github", "mona", WINDOW).count == 1, "past its age: asked again"


# -- classify: one request per event ------------------------------------------------------------------------


class Unsure:
    """A model that answers every classification unsure (the event goes to decide)."""

    def choose_tool(self, **_: Any) -> LlmAnswer:
        return LlmAnswer(ToolCall("classify_intent", {"intent": "question", "confidence": 0.3}), [])


START = 1_800_000_000


def classify(memory_table: str, dynamodb: Recording, limit: int = 20) -> ClassifyService:
    """Classify as its handler builds it, but with no kept profiles (every request shows) and a clock in the
    middle of an hour's window; the gate keeps the event's standing, as it does there."""
    clock = FakeClock(START + 1_000)
    directory = DynamoAuthorDirectory(memory_table, dynamodb, clock)
    model: Any = Unsure()  # the one method classify calls of its budgeted client
    return ClassifyService(
        InMemoryTaskRepository(),
        InMemoryQueue(),
        act_queue_url,
        "https://sqs.local/decide.fifo",
        default_chain(directory, RulesConfig(rate_limit=limit)),
        llm=model,
        gate=PolicyGate(authors=directory, standing_max_age_seconds=STANDING_MAX_AGE_SECONDS, clock=clock),
    )


def event(n: int, text: str, author: str = "stranger", bot: bool = False) -> InboundEvent:
    return github_event(text, event_id=f"d-{n}", content_id=f"c-{n}").model_copy(
        update={"author": author, "author_is_bot": bot}
    )


def test_classify_makes_one_author_request_per_untrusted_event_and_none_to_the_old_rate_windows(
    dynamodb: Recording, memory_table: str
) -> None:
    service = classify(memory_table, dynamodb, limit=3)
    texts = ["How do I configure this?", "/label bug", "/assign me", "Still failing for me", "Any news?"]
    statuses = [service.process(event(n, text), f"m-{n}") for n, text in enumerate(texts)]
    assert statuses == [
        TaskStatus.CLASSIFIED,  # to decide
        TaskStatus.DISPATCHED,
        TaskStatus.DISPATCHED,
        TaskStatus.DISPATCHED,  # the fourth request: over the limit, the polite reply
        TaskStatus.DROPPED,  # then silence
    ]
    assert dynamodb.count("author") == len(texts), "one request each: the read is the count"
    assert dynamodb.count("rate") == 2, "the gate's acting count for /label and /assign, on its own windows"
    assert window_counts(dynamodb, memory_table, "github", "stranger") == {START: 5}


def test_a_duplicate_gives_its_count_back_and_a_bots_event_asks_nothing_of_the_directory(
    dynamodb: Recording, memory_table: str
) -> None:
    service = classify(memory_table, dynamodb)
    assert service.process(event(1, "How do I configure this?"), "m-1") is TaskStatus.CLASSIFIED
    duplicate = event(1, "How do I configure this?").model_copy(update={"event_id": "d-redelivered"})
    assert service.process(duplicate, "m-2") is None
    assert window_counts(dynamodb, memory_table, "github", "stranger") == {START: 1}
    # its count, the duplicate's count, and the duplicate's give-back
    assert [op for op, kind in dynamodb.requests if kind == "author"] == ["update_item"] * 3
    before = len(dynamodb.requests)
    assert service.process(event(2, "Thanks, merged.", author="ci", bot=True), "m-3") is TaskStatus.DROPPED
    assert [r for r in dynamodb.requests[before:] if r[1] == "author"] == [], "dropped on the event alone"
    assert window_counts(dynamodb, memory_table, "github", "ci") == {}
