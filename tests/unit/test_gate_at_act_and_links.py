"""The rest of the policy gate's and the renderer's classes: the acting rate counts an action once however
often its dispatch is retried; the act layer's re-check of a close or an assignment looks up trust as the
dispatch did; the link allow-list is a setting (``linkAllowList``) that reaches the renderer, and Slack text
links no bare domain that is not on it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import render
from switchboard.act import ActService
from switchboard.actworker import make_executor
from switchboard.classify import ClassifyService
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.policy import Chooser, PolicyConfig, PolicyGate, Standing, judge
from switchboard.rules import default_chain
from switchboard.settings import ActSettings
from tests.fakes import act_queue_url, github_event
from tests.fakes.memory import MemoryAuthorDirectory
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

REPO = "octo-org/demo"
logins = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z")

# -- the acting rate: once per action ------------------------------------------------------------------------


@given(st.lists(st.integers(0, 7), min_size=1, max_size=40), st.integers(1, 5))
@settings(max_examples=200, deadline=None)
def test_the_acting_rate_counts_each_action_once_however_often_it_is_checked(
    ordinals: list[int], limit: int
) -> None:
    """Checks of actions (a retried dispatch checks the same action ids again): the allowed ones are the
    first ``limit`` distinct actions, whatever the order and the repeats."""
    gate = PolicyGate(PolicyConfig(acting_rate_limit=limit), MemoryAuthorDirectory())
    event = github_event("/label bug")
    first_allowed: list[int] = []
    for ordinal in ordinals:
        action = ActionRequest.for_task(
            event,
            ordinal,
            "github.add_labels",
            Service.GITHUB,
            {"repo": REPO, "number": 7, "labels": ["bug"]},
        )
        allowed = gate.check(action, event, Chooser.MODEL).allowed
        if ordinal not in first_allowed and len(first_allowed) < limit:
            first_allowed.append(ordinal)
        assert allowed == (ordinal in first_allowed), (ordinals, limit, ordinal)


def test_a_redelivered_classify_message_does_not_count_its_action_again() -> None:
    """The dispatch retried: the first send fails after the verdict, the redelivery dispatches again."""
    authors = MemoryAuthorDirectory()
    tasks = InMemoryTaskRepository()
    queue = InMemoryQueue(fail_next=1)
    gate = PolicyGate(PolicyConfig(acting_rate_limit=1), authors)
    service = ClassifyService(
        tasks,
        queue,
        act_queue_url,
        "https://sqs.local/decide.fifo",
        default_chain(authors),
        llm=None,
        gate=gate,
    )
    event = github_event("/label bug")
    with pytest.raises(ConnectionError):
        service.process(event, "m-1")
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED  # not refused as a second acting action
    assert [n for (platform, *_), n in authors.windows.items() if platform == "github-acts"] == [1]


# -- the act layer's re-check: the same trust lookup ---------------------------------------------------------


def _dispatched_close(tasks: InMemoryTaskRepository, event: InboundEvent) -> ActionRequest:
    """A task opened and classified for ``event`` by a rule the close passes, to hand the act layer a close
    that reached its queue: by dispatch (a verdict in the history) or forged (none)."""
    queue = InMemoryQueue()
    trusting = MemoryAuthorDirectory()
    trusting.set_flags("github", event.author or "", blocked=False, trusted=True)
    ClassifyService(
        tasks,
        queue,
        act_queue_url,
        "https://sqs.local/decide.fifo",
        default_chain(trusting),
        llm=None,
        gate=PolicyGate(authors=trusting),
    ).process(event, "m-1")
    [action] = queue.actions()
    assert action.ability == "github.close"
    return action


@given(
    author=logins,
    trusted=st.booleans(),
    owner=st.booleans(),
    forged=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_a_close_at_execution_passes_only_whom_the_dispatch_gate_would_pass(
    author: str, trusted: bool, owner: bool, forged: bool
) -> None:
    tasks = InMemoryTaskRepository()
    event = github_event("/close").model_copy(
        update={
            "author": author,
            "context": {
                "repo": REPO,
                "number": "7",
                "kind": "issue",
                "issue_author": (author if owner else "someone-else"),
            },
        }
    )
    action = _dispatched_close(tasks, event)
    if forged:  # the same close, with no verdict of the dispatch's in the history: chosen by nobody known
        task = tasks.get(action.task_id)
        for entry in task.history:
            if isinstance(entry.get("detail"), dict):
                entry["detail"].pop("policy", None)
    authors = MemoryAuthorDirectory()
    authors.set_flags("github", author, blocked=False, trusted=trusted)
    calls: list[ActionRequest] = []

    def execute(a: ActionRequest) -> dict[str, Any]:
        calls.append(a)
        return {"status": 200}

    act = ActService(tasks, execute, gate=PolicyGate(authors=authors))
    status = act.process(action)
    expected = judge(
        "github.close", action.params, Standing(author, trusted, owner), Chooser.RULE, PolicyConfig()
    )
    if expected is None:
        assert status is TaskStatus.DONE and calls == [action]
    else:
        assert status is TaskStatus.FAILED and calls == []
        assert "refused by policy" in (tasks.get(action.task_id).reason or "")


def test_a_stranger_assigning_others_is_refused_at_execution_but_a_label_needs_no_lookup() -> None:
    class Counting(MemoryAuthorDirectory):
        lookups = 0

        def profile(self, platform: str, author: str) -> Any:
            Counting.lookups += 1
            return super().profile(platform, author)

    gate = PolicyGate(authors=Counting())
    event = github_event("/label bug")
    label = ActionRequest.for_task(
        event, 0, "github.add_labels", Service.GITHUB, {"repo": REPO, "number": 7, "labels": ["bug"]}
    )
    assign = ActionRequest.for_task(
        event, 1, "github.assign", Service.GITHUB, {"repo": REPO, "number": 7, "assignees": ["hubot"]}
    )
    assert not gate.needs_standing(label) and gate.needs_standing(assign)
    assert gate.at_execution(assign, event, []) is not None and Counting.lookups == 1
    mine = assign.model_copy(update={"params": {**assign.params, "assignees": ["mona"]}})
    assert gate.at_execution(mine, event, []) is None


# -- the link allow-list: a setting, and bare domains in Slack -----------------------------------------------


def act_settings(service: str, **extra: str) -> ActSettings:
    values: dict[str, Any] = {
        "powertools_service_name": "act",
        "tasks_table_name": "t",
        "memory_table_name": "m",
        "service": service,
        "act_queue_url": "q",
        "service_api_url": "https://api.example.com",
        "service_token_secret_id": "s",
        "max_receive_count": 5,
        "shadow_mode_parameter": "p",
        "disabled_abilities_parameter": "p",
        "escalation_channel": "C1",
        "followups_queue_url": "f",
        "act_github_queue_url": "q",
        "act_slack_queue_url": "q",
        "act_tickets_queue_url": "q",
        "act_escalate_queue_url": "q",
    }
    return ActSettings(**(values | extra))


@pytest.mark.parametrize("service", ["github", "slack", "escalate"])
def test_the_link_allow_list_and_the_deployed_tickets_host_reach_the_executor(service: str) -> None:
    settings = act_settings(
        service,
        link_allow_list='["docs.example.org"]',
        tickets_api_url="http://127.0.0.1:4010/tickets",
    )
    links = make_executor(settings, "token").links  # type: ignore[attr-defined]
    assert links.allows("https://docs.example.org/guide") and links.allows("https://a.docs.example.org/")
    assert links.allows("http://127.0.0.1:4010/tickets/T-1")  # locally: the sink is the tickets service
    assert not links.allows("https://evil.example.com/")


def test_a_malformed_link_allow_list_fails_the_settings() -> None:
    for value in ['["https://docs.example.org"]', "docs.example.org/path", '["*.example.org"]', "[1]"]:
        with pytest.raises(ValueError, match="linkAllowList"):
            act_settings("github", link_allow_list=value)


def test_a_followup_ticket_link_renders_as_a_link_when_its_host_is_allowed() -> None:
    allowed = render.LinkPolicy.for_platform("slack", tickets_api_url="http://127.0.0.1:4010/tickets")
    text = "Ticket <http://127.0.0.1:4010/tickets/T-1|T-1> is open."
    assert render.slack(text, allowed) == text
    assert "`" in render.slack(text, render.LinkPolicy.for_platform("slack"))


labels_ = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?\Z")
tlds = st.from_regex(r"\A[a-z]{2,8}\Z")
domains = st.builds(
    lambda parts, tld: ".".join([*parts, tld]), st.lists(labels_, min_size=1, max_size=3), tlds
)
paths = st.sampled_from(["", "/", "/x", "/a/b?c=1"])
around = st.sampled_from(["{}", "see {} now", "({})", "{}.", "mail me@{}", "{}, {}", "*{}*", "_{}_"])


def linked_domains(text: str) -> set[str]:
    """What a client that links bare domains would link: a run of labels with a final label of letters,
    at the start of a word (the word joiner, U+2060, is not part of a name)."""
    return {m[0] for m in re.finditer(r"(?<![\w.-])(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}(?![\w-])", text)}


@given(domains, paths, around)
@settings(max_examples=300, deadline=None)
def test_slack_text_links_no_bare_domain_that_is_not_allowed(domain: str, path: str, shape: str) -> None:
    text = shape.format(domain + path, domain + path)
    out = render.slack(text, render.LinkPolicy.for_platform("slack"))
    allowed = render.LinkPolicy.for_platform("slack").allows("https://" + domain)
    if not allowed:
        assert linked_domains(out) == set(), (text, out)
    assert out.replace(render.JOINER, "") == render._slack_escape(text)  # the same text to a reader


@given(domains, paths, around)
@settings(max_examples=150, deadline=None)
def test_an_allowed_bare_domain_stays_as_written(domain: str, path: str, shape: str) -> None:
    links = render.LinkPolicy(frozenset({domain}))
    text = shape.format(domain + path, domain + path)
    assert render.slack(text, links) == render._slack_escape(text)


@given(domains, st.sampled_from(["www.{}", "https://{}/x", "http://{}", "mailto:me@{}", "me@{}"]))
@settings(max_examples=150, deadline=None)
def test_github_text_autolinks_nothing_that_is_not_allowed(domain: str, shape: str) -> None:
    """GFM's autolinks extension links www. names, http(s) URLs and e-mail addresses (also after mailto:); a
    bare domain it does not link."""
    out = render.github(f"before {shape.format(domain)} after")
    gfm_links = re.findall(
        r"(?i)\bwww\.[a-z0-9]|https?://[a-z0-9]|[a-z0-9._+-]@[a-z0-9]", out.replace("`", " ")
    )
    assert gfm_links == [], out
