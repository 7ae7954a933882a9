"""Powertools idempotency for actions, with its record on the action's task item.

The act service runs each action's external call under Powertools idempotency (``idempotent_function``,
keyed by the action id), and then records the result on the task anyway (``TaskStore.complete_action``: the
set of completed action ids, the result in the history). Powertools' DynamoDB layer kept a second record of
the same fact in the memory table, at one more write per action. This persistence layer keeps the record on
the task item instead:

=====================  ===================================================================================
Powertools asks        this layer
=====================  ===================================================================================
``_put_record``        one conditional UpdateItem on the task (``TaskStore.start_action``): marks the action
                       in flight until the in-progress expiry Powertools computed; refused when the action
                       is completed, or another unexpired mark holds it. The refusal returns the item as it
                       stood (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so the record Powertools
                       needs comes with it and no read follows.
``_update_record``     nothing: the guarded function records the completion itself before it returns (the
                       act service's ``complete_action``, which also removes the mark), so that the
                       record of the guard and the record of the result are one write.
``_delete_record``     removes the mark (``TaskStore.end_action``): the call failed, a later attempt may run.
``_get_record``        a consistent read of the task: COMPLETED with the recorded result, INPROGRESS with
                       the mark's expiry, or not found.
=====================  ===================================================================================

So a redelivery after the completion, or a racing copy while the call runs, never calls twice: the first
reads back COMPLETED with its result from the task, the second is in progress (a retry shortly). A process
that dies inside the guard (after the call, or before its completion was written) leaves its mark until the
invocation's end; the redelivery then runs again and asks the service first whether the call landed
(``Executor.find_effect`` on attempt > 1), as it did with Powertools' own layer.

Only a guarded function that records its completion on the task fits this layer: the act service's. The
follow-ups' attempts (act-tickets, keyed by action id + attempt) have no completion of their own to carry the
record, and keep Powertools' DynamoDB layer in the memory table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from switchboard.state import ActionState, TaskStore


def task_of(action_id: str) -> str:
    """The task id an action id begins with (``<task id>#<ordinal>``: ``switchboard.action_ids``)."""
    task_id, mark, ordinal = action_id.rpartition("#")
    if not mark or not task_id or not ordinal:
        raise ValueError(f"{action_id!r} is not an action id")
    return task_id


class TaskActionRecords(BasePersistenceLayer):
    """Powertools' persistence layer for the act service's guard: the record is the action's state on its
    task (see the module docstring). The idempotency key is the action id itself, not a hash of it: the
    record is found through the task id it begins with, and the task item names no other function's
    records. ``clock``: the time in seconds, as ``time.time`` (a test moves it past a dead worker's mark)."""

    def __init__(self, store: TaskStore, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store = store
        self.clock = clock

    def _get_hashed_idempotency_key(self, data: Any) -> str | None:
        """The action id (``data``: the guarded function's ``key`` argument)."""
        if not isinstance(data, str):
            raise TypeError(f"the idempotency key of an action is its id, not {type(data).__name__}")
        task_of(data)
        return data

    def _put_record(self, data_record: DataRecord) -> None:
        action_id = data_record.idempotency_key
        # Powertools' in-progress expiry is the invocation's end; without a Lambda context there is none, and
        # (as in its DynamoDB layer) an in-progress record then holds until the record itself expires.
        until_ms = data_record.in_progress_expiry_timestamp
        if until_ms is None:
            until_ms = int(data_record.expiry_timestamp or 0) * 1000
        state = self.store.start_action(task_of(action_id), action_id, until_ms, int(self.clock() * 1000))
        if state is not None:
            raise IdempotencyItemAlreadyExistsError(old_data_record=self._record(action_id, state))

    def _update_record(self, data_record: DataRecord) -> None:
        """No request: the guarded function's completion write recorded the result and removed the mark."""

    def _delete_record(self, data_record: DataRecord) -> None:
        action_id = data_record.idempotency_key
        self.store.end_action(task_of(action_id), action_id)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        state = self.store.action_state(task_of(idempotency_key), idempotency_key)
        if not state.completed and state.in_flight_until_ms is None:
            raise IdempotencyItemNotFoundError(idempotency_key)
        return self._record(idempotency_key, state)

    @staticmethod
    def _record(action_id: str, state: ActionState) -> DataRecord:
        """The Powertools record of ``state``: COMPLETED with the result (it never expires: the task's own
        expiry ends it), or INPROGRESS until the mark's time. An action that is neither (its mark expired
        between the write and the read) reads as an expired in-progress record, which Powertools answers
        by trying again."""
        if state.completed:
            return DataRecord(
                action_id,
                STATUS_CONSTANTS["COMPLETED"],
                response_data=json.dumps(state.result or {}, sort_keys=True),
            )
        return DataRecord(
            action_id,
            STATUS_CONSTANTS["INPROGRESS"],
            in_progress_expiry_timestamp=state.in_flight_until_ms or 0,
        )
