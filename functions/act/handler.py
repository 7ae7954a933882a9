"""Act: one function per external service, all from this code asset. Executes typed actions exactly once.

act-tickets has a second trigger, the standard follow-ups queue; ``ActWorker`` tells the two apart. Garbage
collection is off from the first statement to the end of the first call (``switchboard.coldstart``), so its
imports come after that statement.
"""

from __future__ import annotations

import gc

gc.disable()  # until the first call ends: what the cold start builds is for good (switchboard.coldstart)

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from compose import build_act_worker

from switchboard.actworker import ActWorker
from switchboard.aws import secrets
from switchboard.coldstart import collect_after_first_call
from switchboard.heartbeat import Heartbeat, finished_any
from switchboard.models import TaskStatus
from switchboard.settings import act_settings

logger = Logger()
metrics = Metrics()

# The settings are validated at init (the cold start), before any invocation: a misconfigured worker
# (act-tickets deployed without ticketsApiUrl) fails its init with the settings error, which Lambda logs once
# per init, and takes no record it could only fail.
act_settings()


@lru_cache(maxsize=1)
def worker() -> ActWorker:
    settings = act_settings()
    return build_act_worker(settings, secrets().text(settings.service_token_secret_id, max_age=300))


@lru_cache(maxsize=1)
def heartbeat() -> Heartbeat:
    return Heartbeat(act_settings().memory_table_name)


def act_record(record: SQSRecord) -> TaskStatus | str:
    return worker().handle(record)


@collect_after_first_call
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    act = worker()
    act.begin(context)
    metrics.add_dimension(name="service", value=act.settings.service.value)
    response = process_partial_response(
        event=event, record_handler=act_record, processor=act.processor_for(event), context=context
    )
    if finished_any(event, response):
        heartbeat().beat(f"act-{act.settings.service.value}")
    return response
