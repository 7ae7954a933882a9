"""The action layer against moto server (queues, tables, SSM), loopback fakes of GitHub, Slack and the tickets
API with fault injection, and the real boto3 and HTTP clients.

Messages travel through real FIFO act queues (and the standard follow-ups queue) with the template's redrive
(maxReceiveCount 5); ``SqsTrigger`` plays Lambda's SQS trigger. Retries, breaker cool-downs and follow-up
delays are configured in seconds so that the whole module runs in well under a minute.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parameters import SSMProvider

from functions.act.compose import build_act_worker
from switchboard.actions.github import marker
from switchboard.actworker import ActWorker
from switchboard.breaker import BreakerConfig, BreakerState, CircuitBreaker, Permit
from switchboard.dynamo import DynamoAuthorDirectory, DynamoBreakerStore
from switchboard.errors import (
    AccessDenied,
    BreakerOpen,
    ConcurrentUpdate,
    OutOfTime,
    PermanentActionError,
    RecordFailed,
    TransientActionError,
)
from switchboard.killswitch import parse_ability_list
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.policy import Chooser, PolicyGate
from switchboard.retry import Outcome, RetryPolicy
from switchboard.settings import ActSettings
from switchboard.sqs import SqsQueueSender
from switchboard.state import Task, TaskStore
from tests.fakes.http_apis import FakeApis
from tests.fakes.sqs_trigger import LambdaContextStub, SqsTrigger, run_until
from tools.local.pollers import lambda_record

SERVICES = ("github", "slack", "tickets", "escalate")
REPO = "octo-org/demo"
ISSUE = f"/repos/{REPO}/issues/7"


def highest(low: float, high: float) -> float:
    """A jitter that always picks the top of the range, so delays are predictable."""
    return high


@pytest.fixture(scope="module")
def apis() -> Iterator[FakeApis]:
    with FakeApis() as running:
        yield running


def inbound(platform: Platform, conversation: str) -> InboundEvent:
    """An event on issue 7 of REPO, as an adapter would have produced it."""
    return InboundEvent(
        platform=platform,
        event_id=str(uuid.uuid4()),
        event_type="issue_comment.created",
        author="mona",
        conversation=conversation,
        text="…",
        received_at=datetime.now(UTC),
        context={"repo": REPO, "number": "7"},
    )


@dataclass
class Stack:
    """What the template would create, in moto, for one test: queues, tables, kill switches."""

    aws: Callable[[str], Any]
    apis: FakeApis
    tables: tuple[str, str]
    queues: dict[str, str] = field(default_factory=dict)
    dlqs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sqs = self.aws("sqs")
        self.ssm = self.aws("ssm")
        self.dynamodb = self.aws("dynamodb")
        self.store = TaskStore(*self.tables, dynamodb=self.dynamodb)
        suffix = uuid.uuid4().hex[:8]
        for name in [*(f"act-{s}" for s in SERVICES), "followups"]:
            fifo = name != "followups"
            ending = ".fifo" if fifo else ""
            base = {"FifoQueue": "true"} if fifo else {}
            dlq = self.sqs.create_queue(QueueName=f"{name}-dlq-{suffix}{ending}", Attributes=base)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
            self.queues[name] = self.sqs.create_queue(
                QueueName=f"{name}-{suffix}{ending}",
                Attributes={**base, "VisibilityTimeout": "180", "RedrivePolicy": redrive},
            )["QueueUrl"]
            self.dlqs[name] = dlq
        for switch, value in (("shadow-mode", "false"), ("disabled-abilities", "none")):
            name = f"/switchboard/test-{suffix}/{switch}"
            self.ssm.put_parameter(Name=name, Value=value, Type="String")
            self.parameters[switch] = name

    def switch(self, name: str, value: str) -> None:
        self.ssm.put_parameter(Name=self.parameters[name], Value=value, Type="String", Overwrite=True)

    def worker(self, service: str, policy: RetryPolicy | None = None, **overrides: Any) -> ActWorker:
        values: dict[str, Any] = {
            "powertools_service_name": "switchboard-act",
            "service": service,
            "tasks_table_name": self.tables[0],
            "memory_table_name": self.tables[1],
            "act_queue_url": self.queues[f"act-{service}"],
            "service_api_url": self.apis.service_url(service),
            "service_token_secret_id": "unused-in-tests",
            "max_receive_count": 5,
            "shadow_mode_parameter": self.parameters["shadow-mode"],
            "disabled_abilities_parameter": self.parameters["disabled-abilities"],
            "kill_switch_max_age_seconds": 0,
            "http_timeout_seconds": 1.0,
            "breaker_cooldown_seconds": 2.0,
            "escalation_channel": "C0ESCALATE",
            "act_escalate_queue_url": self.queues["act-escalate"],
            "act_github_queue_url": self.queues["act-github"],
            "act_slack_queue_url": self.queues["act-slack"],
            "followups_queue_url": self.queues["followups"],
            "followup_delays_seconds": (1, 1, 1),
            # The policy gate's re-check at execution admits the labels these tests apply (`l<n>`, `triage`).
            "label_policy": '{"*": ["bug", "triage", "l*"]}',
        }
        return build_act_worker(
            ActSettings(**(values | overrides)),
            "test-token",
            dynamodb=self.dynamodb,
            sqs=self.sqs,
            ssm=SSMProvider(boto3_client=self.ssm),
            # Delays of 1 s: the top of the jitter range, so the tests can say what the task records.
            policy=policy
            or RetryPolicy(max_attempts=5, base_seconds=1, cap_seconds=1, floor_seconds=1, uniform=highest),
        )

    def trigger(self, worker: ActWorker, queue: str | None = None) -> SqsTrigger:
        return SqsTrigger(self.sqs, worker, self.queues[queue or f"act-{worker.settings.service.value}"])

    def dispatch(
        self, ability: str, params: dict[str, Any], platform: Platform = Platform.GITHUB
    ) -> ActionRequest:
        """Open a task, dispatch one action to its act queue, as classify does. A close or an assignment
        passes the gate by its author's standing (mona, a trusted account: the act layer looks her up again),
        with the verdict recorded; the labels are the worker's to check (its own label policy)."""
        event = inbound(platform, f"{REPO}#7-{uuid.uuid4().hex[:6]}")
        service = Service(ability.split(".")[0])
        action = ActionRequest.for_task(event, 0, ability, service, params)
        authors = DynamoAuthorDirectory(self.tables[1], self.dynamodb)
        authors.set_flags(platform.value, event.author or "", blocked=False, trusted=True)
        gate = PolicyGate(authors=authors)
        verdicts = []
        if gate.needs_standing(action):
            verdict = gate.check(action, event, Chooser.RULE, count_rate=False)
            assert verdict.allowed, verdict
            verdicts.append(verdict.to_json())
        task = self.store.claim_and_open(event, owner="test").task
        assert task is not None
        task = self.store.transition(task, TaskStatus.CLASSIFIED, "classify", {}, actions=[action])
        self.store.transition(task, TaskStatus.DISPATCHED, "classify", {"policy": verdicts})
        self.send(action)
        return action

    def send(self, action: ActionRequest, dedup_id: str | None = None) -> None:
        SqsQueueSender(self.sqs).send(
            self.queues[f"act-{action.service.value}"],
            action.model_dump_json(),
            group_id=action.conversation,
            dedup_id=dedup_id or action.action_id,
        )

    def task(self, action: ActionRequest) -> Task:
        return self.store.get(action.task_id)

    def depth(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def stack(aws: Callable[[str], Any], tables: tuple[str, str], apis: FakeApis) -> Stack:
    apis.reset()
    apis.sink.configure_tickets(url_after_reads=1)
    return Stack(aws, apis, tables)


def until(stack: Stack, action: ActionRequest, *statuses: TaskStatus) -> Callable[[], bool]:
    return lambda: stack.task(action).status in statuses


def notes(task: Task, key: str) -> list[dict[str, Any]]:
    return [entry["detail"] for entry in task.history if key in entry.get("detail", {})]


LABELS = {"repo": REPO, "number": 7, "labels": ["bug"]}


# -- the policy: backoff and the one mapping from error to disposition ---------------------------------------


def test_backoff_is_exponential_with_full_jitter_capped_and_never_before_retry_after() -> None:
    top = RetryPolicy(base_seconds=5, cap_seconds=900, floor_seconds=1, uniform=highest)
    bottom = RetryPolicy(base_seconds=5, cap_seconds=900, floor_seconds=1, uniform=lambda low, high: low)
    assert [top.backoff(attempt) for attempt in range(1, 6)] == [5, 10, 20, 40, 80]
    assert [bottom.backoff(attempt) for attempt in range(1, 6)] == [1, 1, 1, 1, 1]
    assert top.backoff(20) == 900
    assert bottom.backoff(1, retry_after=30) == 30
    assert bottom.backoff(1, retry_after=86_400) == 900  # a Retry-After is honoured up to the cap


def test_each_error_has_one_disposition() -> None:
    policy = RetryPolicy(max_attempts=5, uniform=highest)
    transient = TransientActionError("github", "HTTP 503", 503)
    assert policy.disposition(transient, 1, may_escalate=True).outcome is Outcome.RETRY
    assert policy.disposition(transient, 5, may_escalate=True).outcome is Outcome.DEAD_LETTER
    assert (
        policy.disposition(BreakerOpen("github", BreakerState.OPEN, 12.0), 1, may_escalate=True).delay == 17
    )
    assert policy.disposition(ConcurrentUpdate("moved"), 5, may_escalate=True).outcome is Outcome.RETRY
    assert policy.disposition(OutOfTime("late"), 1, may_escalate=True).delay == 0
    assert policy.disposition(
        PermanentActionError("github", "HTTP 404", 404), 1, may_escalate=True
    ).outcome is (Outcome.FAIL)
    denied = AccessDenied("github", "HTTP 403", 403)
    assert policy.disposition(denied, 1, may_escalate=True).outcome is Outcome.NEEDS_HUMAN
    assert policy.disposition(denied, 1, may_escalate=False).outcome is Outcome.FAIL


def test_the_disabled_abilities_parameter_lists_names_and_wildcards() -> None:
    assert parse_ability_list("none") == frozenset()
    assert parse_ability_list(" github.close, slack.* ,") == {"github.close", "slack.*"}


# -- the new GitHub abilities follow GitHub's REST shapes ----------------------------------------------------


def test_assign_and_close_follow_githubs_documented_requests(stack: Stack, apis: FakeApis) -> None:
    github = stack.trigger(stack.worker("github"))
    assign = stack.dispatch("github.assign", {"repo": REPO, "number": 7, "assignees": ["octocat"]})
    close = stack.dispatch("github.close", {"repo": REPO, "number": 7, "reason": "not_planned"})

    run_until([github], lambda: all(stack.task(a).status is TaskStatus.DONE for a in (assign, close)))

    assigned, closed = apis.calls("github")
    assert (assigned.method, assigned.path, assigned.body) == (
        "POST",
        f"{ISSUE}/assignees",
        {"assignees": ["octocat"]},
    )
    assert (closed.method, closed.path, closed.body) == (
        "PATCH",
        ISSUE,
        {"state": "closed", "state_reason": "not_planned"},
    )
    [result] = notes(stack.task(close), "result")
    assert result["result"] == {"status": 200, "state": "closed", "state_reason": "not_planned"}
    assert notes(stack.task(assign), "result")[0]["result"]["assignees"] == ["octocat"]


# -- exactly once --------------------------------------------------------------------------------------------


def test_a_redelivered_action_makes_no_second_call(stack: Stack, apis: FakeApis) -> None:
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)
    run_until([github], until(stack, action, TaskStatus.DONE))

    stack.send(action, dedup_id=f"{action.action_id}-hours-later")  # the provider redelivers, past dedup
    run_until([github], lambda: stack.depth(stack.queues["act-github"]) == 0)

    assert len(apis.calls("github")) == 1
    task = stack.task(action)
    assert task.status is TaskStatus.DONE
    assert [entry.get("status") for entry in task.history].count("DONE") == 1
    assert task.completed_actions == [action.action_id]


def test_two_workers_racing_on_one_action_make_one_call(stack: Stack, apis: FakeApis) -> None:
    action = stack.dispatch("github.add_labels", LABELS)
    [message] = stack.sqs.receive_message(
        QueueUrl=stack.queues["act-github"], AttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    record = SQSRecord(lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:act-github.fifo"))
    apis.slow("github", 0.5, times=1)  # the first call is still running when the second worker starts
    workers = [stack.worker("github"), stack.worker("github")]  # two execution environments
    for worker in workers:
        worker.begin(LambdaContextStub(timeout_seconds=30))  # type: ignore[arg-type]
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def run(worker: ActWorker) -> None:
        start.wait()
        try:
            outcomes.append(worker.handle(record))
        except RecordFailed as exc:
            outcomes.append(exc.verdict.kind)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(apis.calls("github")) == 1
    assert sorted(map(str, outcomes)) == sorted([str(TaskStatus.DONE), "contention"])
    task = stack.task(action)
    assert task.status is TaskStatus.DONE
    assert notes(task, "kind")[0]["reason"] == "another worker holds this action"


# -- transient faults: retried with backoff, or the DLQ with the reason --------------------------------------


def test_transient_faults_are_retried_until_the_call_succeeds(stack: Stack, apis: FakeApis) -> None:
    apis.fault("github", 503, times=2)
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], until(stack, action, TaskStatus.DONE))

    assert [call.status for call in apis.calls("github")] == [503, 503, 200]
    attempts = notes(stack.task(action), "attempt")
    assert [(n["attempt"], n["kind"], n["status"], n["retry_in_s"]) for n in attempts] == [
        (1, "transient", 503, 1),
        (2, "transient", 503, 1),
    ]
    assert attempts[0]["reason"] == f"HTTP 503 from POST {ISSUE}/labels"
    assert stack.depth(stack.queues["act-github"]) == 0


def test_under_an_error_rate_every_action_succeeds_exactly_once(stack: Stack, apis: FakeApis) -> None:
    apis.fault("github", 500, rate=0.4)  # four calls in ten fail (a seeded RNG: the run repeats)
    github = stack.trigger(stack.worker("github", breaker_failure_threshold=100))
    actions = [stack.dispatch("github.add_labels", {**LABELS, "labels": [f"l{n}"]}) for n in range(4)]

    run_until([github], lambda: all(stack.task(a).status is TaskStatus.DONE for a in actions), timeout=20)

    calls = apis.calls("github")
    assert sorted(call.body["labels"][0] for call in calls if call.status == 200) == ["l0", "l1", "l2", "l3"]
    failed = [call for call in calls if call.status == 500]
    assert failed, "the error rate injected no fault"
    assert len(failed) == sum(len(notes(stack.task(a), "attempt")) for a in actions)


def test_a_retry_after_is_honoured(stack: Stack, apis: FakeApis) -> None:
    apis.fault("slack", 429, times=1, retry_after=2, body={"ok": False, "error": "ratelimited"})
    slack = stack.trigger(stack.worker("slack"))
    action = stack.dispatch(
        "slack.reply",
        {"channel": "C024BE91L", "thread_ts": "1763712000.000200", "text": "On it."},
        Platform.SLACK,
    )

    run_until([slack], until(stack, action, TaskStatus.DONE))

    limited, posted = apis.calls("slack", method="POST")  # between them, the retry's look for the reply
    assert (limited.status, posted.status) == (429, 200)
    assert posted.at - limited.at >= 1.9
    [attempt] = notes(stack.task(action), "attempt")
    assert attempt["retry_in_s"] == 2


def test_a_timeout_is_a_transient_fault_and_nothing_hangs(stack: Stack, apis: FakeApis) -> None:
    apis.slow("github", 2.5, times=1)  # longer than the 1 s client timeout
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], until(stack, action, TaskStatus.DONE), timeout=15)

    [attempt] = notes(stack.task(action), "attempt")
    assert attempt["kind"] == "transient"
    assert attempt["reason"].startswith("timeout after 1.0s")


def test_a_comment_whose_answer_was_lost_is_found_and_not_posted_twice(stack: Stack, apis: FakeApis) -> None:
    """The call lands after the client gave up (a timeout). GitHub comments are not a set: the retry asks
    GitHub for the comment by its marker before posting, and records the comment it found."""
    apis.slow("github", 1.5, times=1)  # over the 1 s client timeout; the comment is created at 1.5 s
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.comment", {"repo": REPO, "number": 7, "body": "Thanks for the report."})

    run_until([github], until(stack, action, TaskStatus.DONE), timeout=15)

    posts = [call for call in apis.calls("github") if call.method == "POST"]
    lookups = [call for call in apis.calls("github") if call.method == "GET"]
    assert [post.status for post in posts] == [201], "one comment, posted once"
    assert posts[0].body["body"] == f"Thanks for the report.\n\n{marker(action.action_id)}"
    assert [(get.path, get.status) for get in lookups] == [(f"{ISSUE}/comments?per_page=100", 200)]
    [attempt] = notes(stack.task(action), "attempt")
    assert (attempt["kind"], attempt["retry_in_s"]) == ("transient", 2)  # no look before the deadline
    [done] = notes(stack.task(action), "result")
    assert done["result"]["reconciled"] == "attempt 2 found the effect of an earlier attempt"
    [created] = [call for call in apis.sink.calls("github") if call["method"] == "POST"]
    assert done["result"]["comment_id"] == created["response"]["id"], "the task names the comment it found"


def test_the_comment_lookup_reads_the_newest_pages_of_a_long_thread(apis: FakeApis) -> None:
    from switchboard.actions.github import GitHubExecutor

    apis.reset()
    github = GitHubExecutor(apis.service_url("github"), "test-token", timeout=1.0)
    event = inbound(Platform.GITHUB, f"{REPO}#7")
    mine = ActionRequest.for_task(event, 0, "github.comment", Service.GITHUB, {**LABELS, "body": "Hi"})
    other = mine.model_copy(update={"action_id": mine.task_id + "#9"})
    assert github.find_effect(mine) is None  # nothing posted yet: one page, no marker
    github.execute(other)
    github.execute(mine)
    link = f'<{apis.service_url("github")}{ISSUE}/comments?per_page=100&page=5>; rel="last"'
    apis.fault("github", 200, times=1, body=[], headers={"Link": link})  # page 1 of 5: old comments only

    found = github.find_effect(mine)

    assert found is not None and found["status"] == 201
    pages = [call.path for call in apis.calls("github") if call.method == "GET"][1:]
    assert pages == [f"{ISSUE}/comments?per_page=100{page}" for page in ("", "&page=4", "&page=5")]
    labels = mine.model_copy(update={"ability": "github.add_labels"})
    assert github.find_effect(labels) is None, "a label set is repeatable: nothing to look up"


def test_a_slack_reply_whose_answer_was_lost_is_found_by_its_metadata(stack: Stack, apis: FakeApis) -> None:
    apis.slow("slack", 1.5, times=1)  # the reply is posted at 1.5 s, after the 1 s client timeout
    slack = stack.trigger(stack.worker("slack"))
    thread = {"channel": "C024BE91L", "thread_ts": "1763712000.000300"}
    action = stack.dispatch("slack.reply", {**thread, "text": "On it."}, Platform.SLACK)

    run_until([slack], until(stack, action, TaskStatus.DONE), timeout=15)

    posts = [call for call in apis.calls("slack") if call.method == "POST"]
    [lookup] = [call.path for call in apis.calls("slack") if call.method == "GET"]
    assert [post.status for post in posts] == [200], "one message, posted once"
    assert posts[0].body["metadata"]["event_payload"] == {"action_id": action.action_id}
    assert lookup.startswith("/conversations.replies?channel=C024BE91L&include_all_metadata=true")
    [done] = notes(stack.task(action), "result")
    [posted] = [call for call in apis.sink.calls("slack") if call["method"] == "POST"]
    assert done["result"]["ts"] == posted["response"]["ts"]
    assert done["result"]["reconciled"] == "attempt 2 found the effect of an earlier attempt"


def test_without_the_history_scope_the_lookup_steps_aside(apis: FakeApis) -> None:
    from switchboard.actions.slack import SlackApi

    apis.reset()
    api = SlackApi("slack", apis.service_url("slack"), "test-token", timeout=1.0)
    apis.fault("slack", 200, times=1, body={"ok": False, "error": "missing_scope"})
    assert api.find_posted("C024BE91L", "tsk_x#0") is None  # the read was refused: no answer, no error
    posted = api.send(api.post_message_call("C024BE91L", "hi", action_id="tsk_x#0"))
    api.send(api.post_message_call("C024BE91L", "someone else's", action_id="tsk_y#0"))
    assert api.find_posted("C024BE91L", "tsk_x#0") == posted  # the channel's newest messages, top level
    assert api.find_posted("C024BE91L", "tsk_z#0") is None


def test_a_fault_that_outlasts_every_attempt_sends_the_message_to_the_dlq_with_the_reason(
    stack: Stack, apis: FakeApis
) -> None:
    apis.fault("github", 502)
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], lambda: stack.depth(stack.dlqs["act-github"]) == 1, timeout=20)

    assert len(apis.calls("github")) == 5  # maxReceiveCount attempts, then no more
    task = stack.task(action)
    assert task.status is TaskStatus.FAILED
    assert task.reason == f"HTTP 502 from POST {ISSUE}/labels"
    last = notes(task, "dead_letter")[0]
    assert (last["attempt"], last["max_attempts"]) == (5, 5)
    assert stack.depth(stack.queues["act-github"]) == 0


# -- permanent faults: no retry ------------------------------------------------------------------------------


def test_a_permanent_fault_fails_the_task_at_once_without_retry(stack: Stack, apis: FakeApis) -> None:
    apis.fault("github", 422, times=1, body={"message": "Validation Failed"})
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], until(stack, action, TaskStatus.FAILED))
    github.poll()

    assert len(apis.calls("github")) == 1
    assert stack.task(action).reason == f"HTTP 422 from POST {ISSUE}/labels"
    assert stack.depth(stack.queues["act-github"]) == 0
    assert stack.depth(stack.dlqs["act-github"]) == 0


def test_refused_credentials_hand_the_task_to_a_person(stack: Stack, apis: FakeApis) -> None:
    apis.fault("github", 401, times=1, body={"message": "Bad credentials"})
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], until(stack, action, TaskStatus.NEEDS_HUMAN))

    assert len(apis.calls("github")) == 1
    task = stack.task(action)
    assert task.reason == f"HTTP 401 from POST {ISSUE}/labels"
    [message] = stack.sqs.receive_message(QueueUrl=stack.queues["act-escalate"])["Messages"]
    escalation = ActionRequest.model_validate_json(message["Body"])
    assert (escalation.ability, escalation.task_id) == ("escalate.human", action.task_id)
    assert "credentials or permissions" in escalation.params["summary"]


def test_the_escalation_worker_never_escalates_to_itself(stack: Stack, apis: FakeApis) -> None:
    apis.fault("escalate", 200, times=1, body={"ok": False, "error": "invalid_auth"})
    escalate = stack.trigger(stack.worker("escalate"))
    action = stack.dispatch(
        "escalate.human",
        {
            "summary": "someone asked for a refund",
            "decision_needed": "refund or not?",
            "task_id": "t",
            "platform": "github",
            "conversation": "c",
        },
    )

    run_until([escalate], until(stack, action, TaskStatus.FAILED))

    assert stack.task(action).reason == "slack error invalid_auth"
    assert stack.depth(stack.queues["act-escalate"]) == 0


# -- the circuit breaker -------------------------------------------------------------------------------------


def test_the_breaker_opens_skips_calls_while_open_and_closes_after_a_probe(
    stack: Stack, apis: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    apis.fault("github", 503, times=2)
    github = stack.trigger(stack.worker("github", breaker_failure_threshold=2, breaker_cooldown_seconds=3))
    first = stack.dispatch("github.add_labels", LABELS)
    second = stack.dispatch("github.add_labels", {**LABELS, "labels": ["triage"]})

    run_until(
        [github], lambda: all(stack.task(a).status is TaskStatus.DONE for a in (first, second)), timeout=20
    )

    statuses = [call.status for call in apis.calls("github")]
    assert statuses == [503, 503, 200, 200]  # nothing was called while the breaker was open
    events = [
        event for a in (first, second) for n in notes(stack.task(a), "breaker") for event in n["breaker"]
    ]
    assert {"breaker": "open", "by": "this failure"} in events
    assert any(event.get("call") == "skipped" and event["breaker"] == "open" for event in events)
    assert {"breaker": "half_open", "call": "probe"} in events
    assert {"breaker": "closed", "by": "probe"} in events
    breaker = CircuitBreaker("github", DynamoBreakerStore(stack.tables[1], stack.dynamodb))
    assert breaker.state()["state"] == "closed"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"BreakerOpen"' in line]
    values = {(m["service"], value) for m in emitted for value in _as_list(m["BreakerOpen"])}
    assert values >= {("github", 1), ("github", 0)}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_only_one_worker_probes_a_half_open_breaker(stack: Stack) -> None:
    now = [1_000.0]
    config = BreakerConfig(
        failure_threshold=1, window_seconds=60, cooldown_seconds=10, probe_lease_seconds=30
    )
    workers = [
        CircuitBreaker(
            "tickets", DynamoBreakerStore(stack.tables[1], stack.dynamodb), config, clock=lambda: now[0]
        )
        for _ in range(2)
    ]
    assert workers[0].record_failure(workers[0].acquire()) is not None  # opened
    with pytest.raises(BreakerOpen):
        workers[1].acquire()

    now[0] += 11  # the cool-down is over: both try to probe
    outcomes: list[bool | str] = []
    for worker in workers:
        try:
            outcomes.append(worker.acquire().probe)
        except BreakerOpen as exc:
            outcomes.append(exc.state.value)
    assert outcomes == [True, "half_open"]

    assert workers[0].record_failure(Permit(probe=True)) is BreakerState.OPEN  # the probe failed: open again
    now[0] += 11
    assert workers[1].acquire() == Permit(probe=True)
    assert workers[1].record_success(Permit(probe=True)) is BreakerState.CLOSED
    assert workers[0].acquire() == Permit(probe=False)


# -- staged follow-ups ---------------------------------------------------------------------------------------


def _ticket(stack: Stack, reply_to: dict[str, str]) -> ActionRequest:
    return stack.dispatch(
        "tickets.create",
        {
            "title": "Printer on fire",
            "body": "The printer on floor 3 is on fire.",
            "source": "https://github.com/octo-org/demo/issues/7",
            "reporter": "mona",
            "reply_to": reply_to,
        },
    )


def test_a_follow_up_reads_the_ticket_after_its_delay_and_replies_with_the_link(
    stack: Stack, apis: FakeApis
) -> None:
    apis.sink.configure_tickets(url_after_reads=2)
    tickets_worker = stack.worker("tickets")
    tickets = stack.trigger(tickets_worker)
    followups = stack.trigger(tickets_worker, "followups")
    github = stack.trigger(stack.worker("github"))
    action = _ticket(stack, {"platform": "github", "repo": REPO, "number": "7"})

    tickets.poll()
    assert stack.task(action).status is TaskStatus.WAITING
    run_until([tickets, followups, github], lambda: bool(apis.successes("github")), timeout=15)

    created, *reads = apis.calls("tickets")
    assert (created.method, created.path) == ("POST", "/tickets")
    assert len(reads) == 2
    assert {read.path for read in reads} == {f"/tickets/{reads[0].path.rsplit('/', 1)[1]}"}
    assert reads[0].at - created.at >= 0.9  # not read at once: after the first delay
    assert reads[1].at - reads[0].at >= 0.9  # and again after the next
    [comment] = apis.calls("github")
    assert (comment.method, comment.path) == ("POST", f"{ISSUE}/comments")
    assert "/tickets/view/" in comment.body["body"]
    task = stack.task(action)
    assert task.status is TaskStatus.DONE
    [waiting] = notes(task, "next_attempt")
    assert (waiting["attempt"], waiting["link"], waiting["next_attempt"]) == (1, "not yet", 2)
    [done] = [n for n in notes(task, "via")]
    assert (done["via"], done["attempts"], done["reply_ability"]) == ("read", 2, "github.comment")
    assert [entry.get("status") for entry in task.history if "status" in entry][-2:] == ["WAITING", "DONE"]


def test_when_the_delays_run_out_the_follow_up_falls_back_to_the_lookup(stack: Stack, apis: FakeApis) -> None:
    apis.sink.configure_tickets(url_after_reads=None)  # the ticket's own page never shows the link
    tickets_worker = stack.worker("tickets", followup_delays_seconds=(1, 1))
    triggers = [stack.trigger(tickets_worker), stack.trigger(tickets_worker, "followups")]
    action = _ticket(stack, {"platform": "standard"})

    run_until(triggers, until(stack, action, TaskStatus.DONE), timeout=15)

    paths = [call.path for call in apis.calls("tickets")]
    assert paths[0] == "/tickets"
    assert len([p for p in paths if p.startswith("/tickets/TCK-")]) == 2
    assert paths[-1] == "/tickets?" + "idempotency_key=" + action.action_id.replace("#", "%23")
    [done] = notes(stack.task(action), "via")
    assert done["via"] == "lookup"
    assert done["url"].endswith("/tickets/view/" + done["ticket_id"])
    assert (done["reply"], done["no_reply"]) == (None, "standard takes no replies")


def test_an_action_is_not_started_without_the_time_to_finish_it(stack: Stack, apis: FakeApis) -> None:
    github = stack.trigger(stack.worker("github"))
    github.time_left_seconds = 4.0  # less than the 1 s timeout x 2 + the 3 s margin
    action = stack.dispatch("github.add_labels", LABELS)

    assert github.poll() == 1

    assert apis.calls() == []
    [late] = notes(stack.task(action), "attempt")
    assert (late["kind"], late["retry_in_s"]) == ("deadline", 0)
    github.time_left_seconds = 30.0
    run_until([github], until(stack, action, TaskStatus.DONE))
    assert len(apis.calls("github")) == 1


# -- kill switches -------------------------------------------------------------------------------------------


def test_shadow_mode_records_what_would_be_called_and_calls_nothing(stack: Stack, apis: FakeApis) -> None:
    stack.switch("shadow-mode", "true")
    github = stack.trigger(stack.worker("github"))
    action = stack.dispatch("github.add_labels", LABELS)

    run_until([github], until(stack, action, TaskStatus.DONE))

    assert apis.calls() == []
    [recorded] = notes(stack.task(action), "result")
    assert recorded["result"] == {
        "shadow": True,
        "would_call": {
            "method": "POST",
            "url": f"{apis.service_url('github')}{ISSUE}/labels",
            "body": {"labels": ["bug"]},
        },
    }


def test_a_disabled_ability_makes_no_call_and_drops_the_task(stack: Stack, apis: FakeApis) -> None:
    stack.switch("disabled-abilities", "github.close, slack.*")
    github = stack.trigger(stack.worker("github"))
    close = stack.dispatch("github.close", {"repo": REPO, "number": 7})
    label = stack.dispatch("github.add_labels", LABELS)

    run_until(
        [github],
        lambda: (
            stack.task(close).status is TaskStatus.DROPPED and stack.task(label).status is TaskStatus.DONE
        ),
    )

    assert [(call.method, call.path) for call in apis.calls("github")] == [("POST", f"{ISSUE}/labels")]
    assert stack.task(close).reason == "ability github.close is disabled (kill switch)"


def test_a_malformed_message_goes_to_the_dlq_without_a_call(stack: Stack, apis: FakeApis) -> None:
    github = stack.trigger(stack.worker("github"))
    stack.sqs.send_message(
        QueueUrl=stack.queues["act-github"],
        MessageBody='{"not": "an action"}',
        MessageGroupId="g",
        MessageDeduplicationId="d",
    )

    run_until([github], lambda: stack.depth(stack.dlqs["act-github"]) == 1, timeout=10)

    assert apis.calls() == []
