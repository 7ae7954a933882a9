"""Act: one function per external service, all from this code asset. Executes typed actions exactly once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.act import ActService, Executor
from switchboard.actions.github import GitHubExecutor
from switchboard.actions.slack import EscalateExecutor, SlackExecutor
from switchboard.actions.tickets import TicketsExecutor
from switchboard.models import ActionRequest, Service
from switchboard.settings import act_settings
from switchboard.state import TaskStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
idempotency = IdempotencyConfig(event_key_jmespath="action_id", expires_after_seconds=14 * 86_400)


def make_executor(service: Service, base_url: str, token: str, timeout: float) -> Executor:
    if service is Service.GITHUB:
        return GitHubExecutor(base_url, token, timeout)
    if service is Service.SLACK:
        return SlackExecutor(base_url, token, timeout)
    if service is Service.TICKETS:
        return TicketsExecutor(base_url, token, timeout)
    return EscalateExecutor(base_url, token, timeout, act_settings().escalation_channel)


@lru_cache(maxsize=1)
def service() -> ActService:
    settings = act_settings()
    token = parameters.get_secret(settings.service_token_secret_id, max_age=300)
    executor = make_executor(
        settings.service, settings.service_api_url, str(token), settings.http_timeout_seconds
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.memory_table_name, key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
    )

    @idempotent_function(data_keyword_argument="action", persistence_store=persistence, config=idempotency)
    def execute_once(action: ActionRequest) -> dict[str, Any]:
        return executor.execute(action)

    return ActService(
        TaskStore(settings.tasks_table_name, settings.memory_table_name),
        lambda action: execute_once(action=action),
    )


@tracer.capture_method
def act_record(record: SQSRecord) -> None:
    service().process(ActionRequest.model_validate_json(record.body))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    metrics.add_dimension(name="service", value=act_settings().service.value)
    return process_partial_response(
        event=event, record_handler=act_record, processor=processor, context=context
    )
