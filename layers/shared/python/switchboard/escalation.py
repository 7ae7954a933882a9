"""Handing a task to a person, with the full context: what came in, what was tried, why it failed, and what
the human must decide. The escalate action is sent before the task turns NEEDS_HUMAN (a terminal state), so
a crash in between can only repeat the send, which the action id deduplicates (``Lifecycle.escalate``).
However often a task is escalated, it is one action: ``action_ids.escalation()``.

The summary quotes the message (its first ``EXCERPT`` characters) below one line about it. The message is
untrusted: the page that shows the summary (``switchboard.actions.slack.page``) renders it for Slack and
shows it as a quote block, every line prefixed ``>``, so it can neither forge the page's own field lines
("What you must decide: …") nor broadcast or mention anyone."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from switchboard import action_ids
from switchboard.abilities import ability
from switchboard.lifecycle import Lifecycle
from switchboard.metrics import Metric, count
from switchboard.models import ActionRequest, InboundEvent, Service
from switchboard.state import Task

logger = Logger(child=True)

#: How much of the message the page quotes.
EXCERPT = 600


class Escalator:
    """Builds the escalate action and its context; ``Lifecycle.escalate`` sends it and moves the task."""

    def __init__(self, lifecycle: Lifecycle, actor: str) -> None:
        self.lifecycle = lifecycle
        self.actor = actor

    def needs_human(
        self,
        task: Task,
        event: InboundEvent,
        *,
        why: str,
        tried: list[str],
        decision: str,
        detail: dict[str, Any] | None = None,
    ) -> Task:
        excerpt = event.text[:EXCERPT] + ("…" if len(event.text) > EXCERPT else "")
        summary = (
            f"{event.platform.value} {event.event_type} from {event.author or 'an unknown author'} "
            f"in {event.conversation}; Switchboard could not decide: {why}. The message:\n{excerpt}"
        )
        params = ability("escalate.human").bound_params(
            event, {"summary": summary[:4_000], "decision_needed": decision, "tried": tried}
        )
        action = ActionRequest.for_task(
            event, action_ids.escalation(), "escalate.human", Service.ESCALATE, params
        )
        task = self.lifecycle.escalate(
            task,
            self.actor,
            action,
            (detail or {})
            | {"why": why, "tried": tried, "decision_needed": decision, "escalated_to": "escalate"},
            reason=why,
        )
        count(Metric.TASKS_NEEDING_HUMAN)
        logger.warning("task needs a human", task_id=task.task_id, why=why)
        return task
