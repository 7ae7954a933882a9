"""The collision issue 11 read from the code: a person's ``tasks resolve`` action on a tickets task got the id
of the follow-up's reply, because the reply is not in ``task.actions`` and the person's ordinal was counted
from there. The act layer runs every action at most once per action id (Powertools idempotency), so the
person's action would silently never run: the stored result of the reply came back instead. (Within SQS's
five-minute deduplication window the person's message is even dropped at the queue, which deduplicates on the
action id.) Played end to end on the in-memory ports, with the real act service, follow-ups and operations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchboard.act import AccessEscalation, ActService
from switchboard.actions.http import HttpCall
from switchboard.actions.tickets import TicketView
from switchboard.errors import AccessDenied
from switchboard.followups import FollowUp, Followups
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.operations import resolve_with_action
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

REPO = "octo-org/demo"


def queue_url(service: Service | str) -> str:
    return f"https://sqs.local/act-{Service(service).value}.fifo"


def event() -> InboundEvent:
    return InboundEvent(
        platform=Platform.GITHUB,
        event_id="delivery-collision",
        event_type="issues.opened",
        author="mona",
        conversation=f"{REPO}#7",
        text="The export crashes on empty files.",
        received_at=datetime.now(UTC),
        context={"repo": REPO, "number": "7"},
    )


class Reader:
    """The tickets API's read side: the ticket's link is there at the first read."""

    base_url = "https://tickets.local"

    def read_call(self, ticket_id: str) -> HttpCall:
        return HttpCall("GET", f"/tickets/{ticket_id}")

    def read(self, ticket_id: str) -> TicketView:
        return TicketView(ticket_id, "open", f"https://tickets.local/t/{ticket_id}")

    def lookup(self, idempotency_key: str, ticket_id: str) -> TicketView | None:
        return None


class DelayQueue:
    def __init__(self) -> None:
        self.scheduled: list[FollowUp] = []

    def schedule(self, followup: FollowUp, delay_seconds: int) -> str:
        self.scheduled.append(followup)
        return f"followup-{len(self.scheduled)}"


class GitHub:
    """act-github: each action runs at most once per action id (as Powertools idempotency keys it), and the
    labels call is refused for want of a scope."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.comments: list[str] = []

    def once(self, key: str, call: Any) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = call()
        return self.results[key]

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        if action.ability == "github.add_labels":
            raise AccessDenied("github", "HTTP 403: the token lacks the issues scope", 403)
        self.comments.append(action.params["body"])
        return {"status": 201, "comment": len(self.comments)}


def test_a_persons_action_on_a_tickets_task_never_takes_the_id_of_the_follow_up_reply() -> None:
    tasks, queue, github = InMemoryTaskRepository(), InMemoryQueue(), GitHub()
    inbound = event()
    # A rule opened a ticket and labelled the issue.
    ticket = ActionRequest.for_task(
        inbound, 0, "tickets.create", Service.TICKETS, {"title": "Export crashes", "body": inbound.text}
    )
    ticket = ticket.model_copy(
        update={
            "params": {
                **ticket.params,
                "source": inbound.conversation,
                "reply_to": {"platform": "github", "repo": REPO, "number": "7"},
            }
        }
    )
    label = ActionRequest.for_task(
        inbound, 1, "github.add_labels", Service.GITHUB, {"repo": REPO, "number": 7, "labels": ["bug"]}
    )
    task = tasks.claim_and_open(inbound, owner="m-1").task
    assert task is not None
    task = tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {}, actions=[ticket, label])
    tasks.transition(task, TaskStatus.DISPATCHED, "classify", {"sent": []})

    # act-tickets opens the ticket; its follow-up reads the link and replies on the issue.
    delays = DelayQueue()
    followups = Followups(tasks, Reader(), delays, queue, queue_url, delays=(1,))
    ActService(tasks, lambda action: {"ticket_id": "T-1"}, stager=followups).process(ticket)
    [followup] = delays.scheduled
    assert followups.process(followup) == "done"
    [reply] = queue.take(queue_url(Service.GITHUB))
    assert reply.ability == "github.comment" and reply not in tasks.get(task.task_id).action_requests()

    # act-github posts the reply, then the labels call is refused: the task goes to a person.
    act_github = ActService(
        tasks,
        github.execute,
        once=github.once,
        escalation=AccessEscalation(queue, queue_url(Service.ESCALATE)),
    )
    act_github.process(reply)
    assert act_github.process(label) is TaskStatus.NEEDS_HUMAN
    assert github.comments == [reply.params["body"]]

    # The person answers on the issue by hand.
    resolved = resolve_with_action(
        tasks,
        queue,
        queue_url,
        task.task_id,
        by="ada",
        ability_name="github.comment",
        params={"body": "Fixed in 1.4.2, thanks for the report."},
    )
    assert resolved.status is TaskStatus.DISPATCHED
    [chosen] = resolved.action_requests()
    assert chosen.action_id != reply.action_id, "the person's action took the reply's action id"
    # Within SQS's deduplication window the same id would even be dropped at the queue.
    assert queue.take(queue_url(Service.GITHUB)) == [chosen]
    act_github.process(chosen)
    assert github.comments == [reply.params["body"], "Fixed in 1.4.2, thanks for the report."]
