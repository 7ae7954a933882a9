"""Triage: the daily look at every DLQ (categorize, report, redrive what has cleared) and, on its own
schedule (``{"action": "plans"}``), the plan watch: a plan whose durable execution ended without ending its
task goes to a person (``switchboard.plans.watch``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.dlq import DeadLetterQueues
from switchboard.settings import TriageSettings, triage_settings
from switchboard.state import TaskStore
from switchboard.triage import Triage

logger = Logger()
metrics = Metrics()

PLAN_WATCH = "plans"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = triage_settings()
    store = TaskStore(settings.tasks_table_name, settings.memory_table_name)
    if event.get("action") == PLAN_WATCH:
        return plan_watch(settings, store).run()
    # Triage redrives one category at a time, which only receive → send → delete can do (a message move
    # task moves a whole queue): it needs no move-task permission.
    dead_letters = DeadLetterQueues(settings.dlq_urls, settings.queue_urls, move_tasks=False)
    return Triage(dead_letters, store, settings.alert_topic_arn).run()


def plan_watch(settings: TriageSettings, store: TaskStore) -> Any:
    from switchboard.dynamo import DynamoAuthorDirectory
    from switchboard.lifecycle import Lifecycle
    from switchboard.models import Service
    from switchboard.plans.watch import LambdaDurableExecutions, PlanWatch
    from switchboard.policy import PolicyGate
    from switchboard.sqs import SqsQueueSender

    if not settings.act_escalate_queue_url:
        raise ValueError("the plan watch needs ACT_ESCALATE_QUEUE_URL: it pages a person")

    def queue_url_for(service: Service) -> str:
        if service is not Service.ESCALATE:
            raise ValueError(f"the plan watch sends only escalations, not act-{service.value}")
        return settings.act_escalate_queue_url

    gate = PolicyGate(settings.policy_config(), DynamoAuthorDirectory(settings.memory_table_name))
    lifecycle = Lifecycle(store, SqsQueueSender(), queue_url_for, gate=gate)
    if not settings.plan_function_name:
        raise ValueError(
            "the plan watch needs PLAN_FUNCTION_NAME: it asks Lambda about the plan's executions"
        )
    executions = LambdaDurableExecutions(settings.plan_function_name)
    return PlanWatch(lifecycle, executions, idle_seconds=settings.plan_watch_idle_seconds)
