"""The policy gate (``switchboard.policy``): its rules over generated authors, labels and parameters, and the
services on the in-memory ports showing that a stranger's model-chosen close, label or assignment is refused
and recorded in the task's history, while a trusted account's passes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import action_ids
from switchboard.act import ActService
from switchboard.classify import ClassifyService
from switchboard.decide import DecideService, offered_abilities
from switchboard.errors import PolicyRefused
from switchboard.lifecycle import Lifecycle
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.models import ActionRequest, DecideRequest, InboundEvent, Service, TaskStatus
from switchboard.operations import resolve_with_action
from switchboard.policy import (
    DEFAULT_LABELS,
    Chooser,
    LabelPolicy,
    PolicyConfig,
    PolicyGate,
    Standing,
    judge,
)
from switchboard.rules import default_chain
from tests.fakes import act_queue_url, github_event
from tests.fakes.memory import MemoryAuthorDirectory
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

REPO = "octo-org/demo"
logins = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,15}\Z")
label_names = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=","), min_size=1)
choosers = st.sampled_from([Chooser.RULE, Chooser.MODEL, Chooser.PLAN])


def standing(author: str, *, trusted: bool = False, issue_author: bool = False) -> Standing:
    return Standing(author, trusted, issue_author)


# -- the rules, over generated inputs ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(author=logins, chooser=choosers, reason=st.sampled_from(["completed", "not_planned"]))
def test_only_a_trusted_account_or_the_issues_author_may_close(
    author: str, chooser: Chooser, reason: str
) -> None:
    params = {"repo": REPO, "number": 7, "reason": reason}
    config = PolicyConfig()
    assert judge("github.close", params, standing(author), chooser, config) is not None
    assert judge("github.close", params, standing(author, trusted=True), chooser, config) is None
    assert judge("github.close", params, standing(author, issue_author=True), chooser, config) is None
    assert judge("github.close", params, standing(author), Chooser.PERSON, config) is None


@settings(max_examples=200, deadline=None)
@given(author=logins, others=st.lists(logins, min_size=1, max_size=10), chooser=choosers)
def test_a_stranger_assigns_only_themselves_and_nobody_more_than_the_limit(
    author: str, others: list[str], chooser: Chooser
) -> None:
    config = PolicyConfig(max_assignees=3)
    me = {"repo": REPO, "number": 7, "assignees": [author]}
    assert judge("github.assign", me, standing(author), chooser, config) is None
    them = {"repo": REPO, "number": 7, "assignees": others}
    strangers = [login for login in others if login.casefold() != author.casefold()]
    verdict = judge("github.assign", them, standing(author), chooser, config)
    assert (verdict is None) == (not strangers and len(others) <= 3)
    trusted = judge("github.assign", them, standing(author, trusted=True), chooser, config)
    assert (trusted is None) == (len(others) <= 3)


@settings(max_examples=300, deadline=None)
@given(
    labels=st.lists(st.one_of(st.sampled_from(DEFAULT_LABELS), label_names), min_size=1, max_size=10),
    trusted=st.booleans(),
    chooser=st.sampled_from(list(Chooser)),
)
def test_only_labels_on_the_allow_list_are_applied_for_anyone(
    labels: list[str], trusted: bool, chooser: Chooser
) -> None:
    config = PolicyConfig()
    params = {"repo": REPO, "number": 7, "labels": labels}
    verdict = judge("github.add_labels", params, standing("mona", trusted=trusted), chooser, config)
    allowed = {label.casefold() for label in DEFAULT_LABELS}
    if chooser is Chooser.AGENT:
        assert verdict is not None
    else:
        assert (verdict is None) == all(label.casefold() in allowed for label in labels)


@pytest.mark.parametrize(
    "labels", [["security"], ["approved"], ["security", "approved"], ["bug", "security"]]
)
def test_a_strangers_label_security_approved_is_refused(labels: list[str]) -> None:
    params = {"repo": REPO, "number": 7, "labels": labels}
    refused = judge("github.add_labels", params, standing("eve"), Chooser.RULE, PolicyConfig())
    assert refused is not None
    assert all(name in refused for name in labels if name != "bug") and "'bug'" not in refused


def test_the_label_policy_is_per_repository_with_a_default_and_patterns() -> None:
    policy = LabelPolicy.parse(json.dumps({"Octo-Org/Demo": ["bug", "area/*"], "*": ["question"]}))
    assert policy.admits("octo-org/demo", "BUG") and policy.admits("octo-org/demo", "area/api")
    assert not policy.admits("octo-org/demo", "question")  # the repository's own list replaces "*"
    assert policy.admits("acme/app", "question") and not policy.admits("acme/app", "bug")
    assert LabelPolicy.parse("").allowed("any/repo") == DEFAULT_LABELS
    with pytest.raises(ValueError, match="JSON object"):
        LabelPolicy.parse('["bug"]')
    with pytest.raises(ValueError, match="list of label names"):
        LabelPolicy.parse('{"*": "bug"}')


@settings(max_examples=100, deadline=None)
@given(
    ability=st.sampled_from(["github.comment", "slack.reply", "escalate.human"]),
    chooser=st.sampled_from(list(Chooser)),
)
def test_replies_and_escalations_pass_for_anyone(ability: str, chooser: Chooser) -> None:
    assert judge(ability, {}, Standing(), chooser, PolicyConfig()) is None


def test_the_agent_itself_may_only_reply_or_escalate() -> None:
    for name in ("github.close", "github.assign", "tickets.create"):
        assert judge(name, {"assignees": []}, standing("x", trusted=True), Chooser.AGENT, PolicyConfig())


def test_acting_abilities_are_rate_limited_per_author_but_not_for_trusted_accounts() -> None:
    authors = MemoryAuthorDirectory()
    gate = PolicyGate(PolicyConfig(acting_rate_limit=2), authors)
    event = github_event("/label bug")
    labels = [
        ActionRequest.for_task(
            event, n, "github.add_labels", Service.GITHUB, {"repo": REPO, "number": 7, "labels": ["bug"]}
        )
        for n in range(4)
    ]
    assert [gate.check(label, event, Chooser.RULE).allowed for label in labels[:3]] == [True, True, False]
    assert "over 2 acting actions" in gate.check(labels[3], event, Chooser.RULE).reason
    label = labels[0]
    comment = ActionRequest.for_task(
        event, 0, "github.comment", Service.GITHUB, {"repo": REPO, "number": 7, "body": "hi"}
    )
    assert gate.check(comment, event, Chooser.MODEL).allowed  # a reply is not an acting ability
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    assert gate.check(label, event, Chooser.RULE).allowed


def test_the_model_is_offered_only_what_the_author_may_use() -> None:
    authors = MemoryAuthorDirectory()
    gate = PolicyGate(authors=authors)
    stranger = github_event("please close this")
    names = {entry.name for entry in offered_abilities(stranger, gate)}
    assert "github.close" not in names and "github.comment" in names
    own = stranger.model_copy(update={"context": {**stranger.context, "issue_author": "mona"}})
    assert "github.close" in {entry.name for entry in offered_abilities(own, gate)}
    authors.set_flags("github", "mona", blocked=False, trusted=True)
    assert "github.close" in {entry.name for entry in offered_abilities(stranger, gate)}
    [tool] = [
        gate.narrow_tool(stranger, e.tool_schema())
        for e in offered_abilities(stranger, gate)
        if e.name == "github.add_labels"
    ]
    assert tool["input_schema"]["properties"]["labels"]["items"]["enum"] == list(DEFAULT_LABELS)


# -- the services on the in-memory ports ------------------------------------------------------------------


class OneAnswer:
    def __init__(self, call: ToolCall) -> None:
        self.call = call

    def choose_tool(self, **_: Any) -> LlmAnswer:
        return LlmAnswer(self.call, [])


def decide_once(
    call: ToolCall, *, trusted: bool, text: str = "Please do it."
) -> tuple[InMemoryTaskRepository, InMemoryQueue, InboundEvent]:
    tasks, queue, authors = InMemoryTaskRepository(), InMemoryQueue(), MemoryAuthorDirectory()
    if trusted:
        authors.set_flags("github", "mona", blocked=False, trusted=True)
    event = github_event(text)
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {"route": "llm"}, route="decide")
    request = DecideRequest(task_id=event.task_id, event=event, intent="other", confidence=0.9)
    gate = PolicyGate(authors=authors)
    DecideService(tasks, queue, act_queue_url, OneAnswer(call), gate=gate).process(request)  # type: ignore[arg-type]
    return tasks, queue, event


def policy_entries(tasks: InMemoryTaskRepository, event: InboundEvent) -> list[dict[str, Any]]:
    return [v for e in tasks.get(event.task_id).history for v in (e.get("detail") or {}).get("policy", [])]


@pytest.mark.parametrize(
    "call",
    [
        ToolCall("github__close", {"reason": "completed"}),
        ToolCall("github__add_labels", {"labels": ["security", "approved"]}),
        ToolCall("github__assign", {"assignees": ["eve", "mallory"]}),
    ],
    ids=["close", "label", "assign"],
)
def test_a_strangers_model_chosen_action_is_refused_and_recorded(call: ToolCall) -> None:
    tasks, queue, event = decide_once(call, trusted=False)
    assert not queue.actions(act_queue_url(Service.GITHUB)), "nothing is sent"
    task = tasks.get(event.task_id)
    if call.name == "github__close":  # not offered to a stranger at all: the model's choice is unknown
        assert task.status is TaskStatus.NEEDS_HUMAN
        return
    assert task.status is TaskStatus.DROPPED and task.reason and "refused by policy" in task.reason
    [verdict] = policy_entries(tasks, event)
    assert verdict["allowed"] is False and verdict["chosen_by"] == "model"


@pytest.mark.parametrize(
    "call",
    [
        ToolCall("github__close", {"reason": "completed"}),
        ToolCall("github__add_labels", {"labels": ["bug"]}),
        ToolCall("github__assign", {"assignees": ["eve", "mallory"]}),
    ],
    ids=["close", "label", "assign"],
)
def test_a_trusted_accounts_model_chosen_action_passes_and_is_recorded(call: ToolCall) -> None:
    tasks, queue, event = decide_once(call, trusted=True)
    [action] = queue.actions(act_queue_url(Service.GITHUB))
    assert action.ability == call.name.replace("__", ".")
    assert tasks.get(event.task_id).status is TaskStatus.DISPATCHED
    verdicts = policy_entries(tasks, event)
    assert verdicts and all(v["allowed"] for v in verdicts)


def test_a_strangers_label_command_with_forbidden_labels_is_dropped_with_the_reason() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/label security, approved")
    service = ClassifyService(
        tasks, queue, act_queue_url, "https://sqs.local/decide.fifo", default_chain(), None
    )
    assert service.process(event, "m-1") is TaskStatus.DROPPED
    assert not queue.sent
    task = tasks.get(event.task_id)
    assert task.reason and "security" in task.reason and "approved" in task.reason
    [verdict] = policy_entries(tasks, event)
    assert verdict == verdict | {"allowed": False, "chosen_by": "rule", "ability": "github.add_labels"}


def test_dispatch_drops_the_refused_actions_sends_the_rest_and_the_task_finishes() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    lifecycle = Lifecycle(tasks, queue, act_queue_url)
    event = github_event("/label bug")
    task = lifecycle.open(event, owner="m-1", actor="classify").task
    assert task is not None
    good = ActionRequest.for_task(
        event, 0, "github.add_labels", Service.GITHUB, {"repo": REPO, "number": 7, "labels": ["bug"]}
    )
    bad = ActionRequest.for_task(
        event, 1, "github.close", Service.GITHUB, {"repo": REPO, "number": 7, "reason": "completed"}
    )
    task = lifecycle.classify(task, "classify", {"route": "rule"}, actions=[good, bad])
    task = lifecycle.dispatch(task, "classify")
    assert [a.action_id for a in queue.actions()] == [good.action_id]
    assert [a["action_id"] for a in task.actions] == [good.action_id]
    assert [v["allowed"] for v in task.history[-1]["detail"]["policy"]] == [True, False]
    ActService(tasks, lambda action: {"status": 200}).process(queue.actions()[0])
    assert tasks.get(event.task_id).status is TaskStatus.DONE


def test_a_persons_action_passes_the_gate_too() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("What now?")
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    tasks.transition(task, TaskStatus.NEEDS_HUMAN, "classify", {}, reason="unsure")
    with pytest.raises(PolicyRefused, match="allow-list"):
        resolve_with_action(
            tasks, queue, act_queue_url, event.task_id, by="oncall", ability_name="github.add_labels",
            params={"labels": ["security"]},
        )  # fmt: skip
    assert tasks.get(event.task_id).history[-1]["detail"]["policy"][0]["allowed"] is False
    done = resolve_with_action(
        tasks, queue, act_queue_url, event.task_id, by="oncall", ability_name="github.close", params={}
    )
    assert done.status is TaskStatus.DISPATCHED and done.history[-1]["detail"]["policy"][0]["allowed"]


def test_the_act_layer_refuses_a_forbidden_label_that_bypassed_dispatch() -> None:
    tasks = InMemoryTaskRepository()
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    action = ActionRequest.for_task(
        event, action_ids.planned(0), "github.add_labels", Service.GITHUB,
        {"repo": REPO, "number": 7, "labels": ["security"]},
    )  # fmt: skip
    task = tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {}, actions=[action])
    tasks.transition(task, TaskStatus.DISPATCHED, "classify", {})
    calls: list[ActionRequest] = []
    assert ActService(tasks, calls.append).process(action) is TaskStatus.FAILED  # type: ignore[arg-type]
    assert not calls and "refused by policy" in (tasks.get(event.task_id).reason or "")
