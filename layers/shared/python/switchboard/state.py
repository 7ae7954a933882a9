"""Task state in DynamoDB: one item per task, a versioned status, and an append-only history.

Every transition is one conditional write: the status must be the one we read and the version must not have
moved, so a concurrent transition is refused (an illegal one never gets here: ``switchboard.lifecycle``, the
only module that changes a status, refuses it). The processed-id claim and the new task are written
in one transaction, so there is never a claim without a task or a task without a claim.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from switchboard.aws import LazyClient
from switchboard.errors import AlreadyRecorded, ConcurrentUpdate, TaskNotFound
from switchboard.memory import DAY, Claim
from switchboard.models import ActionRequest, InboundEvent, TaskStatus

S = TaskStatus

# A task that needs a person has `attention` = its status, so it is in the sparse `by-attention` index.
ATTENTION_STATUSES = frozenset({S.NEEDS_HUMAN, S.FAILED})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(value, default=str), parse_float=Decimal)
    return {key: _serializer.serialize(item) for key, item in plain.items()}


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return _plain({key: _deserializer.deserialize(value) for key, value in item.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Task:
    task_id: str
    event_id: str
    platform: str
    status: TaskStatus
    version: int
    conversation: str
    history: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    completed_actions: list[str] = field(default_factory=list)
    reason: str | None = None
    route: str | None = None
    event_json: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Task:
        data = _from_dynamo(item)
        return cls(
            task_id=data["task_id"],
            event_id=data["event_id"],
            platform=data["platform"],
            status=TaskStatus(data["status"]),
            version=int(data["version"]),
            conversation=data.get("conversation", ""),
            history=list(data.get("history", [])),
            actions=list(data.get("actions", [])),
            completed_actions=sorted(data.get("completed_actions", [])),
            reason=data.get("reason"),
            route=data.get("route"),
            event_json=data.get("event"),
        )

    def inbound_event(self) -> InboundEvent:
        if not self.event_json:
            raise TaskNotFound(f"task {self.task_id} has no stored event")
        return InboundEvent.model_validate_json(self.event_json)

    def action_requests(self) -> list[ActionRequest]:
        return [ActionRequest.model_validate(action) for action in self.actions]

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "event_id": self.event_id,
            "platform": self.platform,
            "status": self.status.value,
            "version": self.version,
            "conversation": self.conversation,
            "reason": self.reason,
            "route": self.route,
            "actions": self.actions,
            "completed_actions": self.completed_actions,
            "history": self.history,
        }


class TaskStore:
    def __init__(
        self, tasks_table: str, memory_table: str, task_ttl_days: int = 90, dynamodb: Any = None
    ) -> None:
        self.tasks_table = tasks_table
        self.memory_table = memory_table
        self.task_ttl_seconds = task_ttl_days * DAY
        self._dynamodb = dynamodb

    dynamodb = LazyClient("dynamodb")

    @staticmethod
    def key(task_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"task#{task_id}"}}

    @staticmethod
    def claim_key(platform: str, event_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"processed#{platform}#{event_id}"}, "sk": {"S": "claim"}}

    def claim_and_open(
        self, event: InboundEvent, owner: str, claim_ttl_days: int, actor: str = "classify"
    ) -> Task | None:
        """Claim the processed id and open the task, atomically. None when the event is already claimed."""
        now = int(time.time())
        entry = history_entry(TaskStatus.RECEIVED, actor, {"event_type": event.event_type})
        task_item = {
            "pk": f"task#{event.task_id}",
            "task_id": event.task_id,
            "event_id": event.event_id,
            "platform": event.platform.value,
            "conversation": event.conversation,
            "author": event.author,
            "status": TaskStatus.RECEIVED.value,
            "version": 1,
            "history": [entry],
            "created_at": entry["at"],
            "expires_at": now + self.task_ttl_seconds,
            "event": event.model_dump_json(),
        }
        claim_item = {
            "task_id": {"S": event.task_id},
            "owner": {"S": owner},
            "claimed_at": {"N": str(now)},
            "expires_at": {"N": str(now + claim_ttl_days * DAY)},
        }
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.memory_table,
                            "Item": {**self.claim_key(event.platform.value, event.event_id), **claim_item},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.tasks_table,
                            "Item": _to_dynamo(task_item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except self.dynamodb.exceptions.TransactionCanceledException:
            return None
        return Task.from_item(_to_dynamo(task_item))

    def claim(self, platform: str, event_id: str) -> Claim | None:
        response = self.dynamodb.get_item(
            TableName=self.memory_table, Key=self.claim_key(platform, event_id), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return Claim(item["task_id"]["S"], item["owner"]["S"], int(item["claimed_at"]["N"]))

    def get(self, task_id: str) -> Task:
        response = self.dynamodb.get_item(
            TableName=self.tasks_table, Key=self.key(task_id), ConsistentRead=True
        )
        if "Item" not in response:
            raise TaskNotFound(task_id)
        return Task.from_item(response["Item"])

    def find_by_event(self, event_id: str) -> list[Task]:
        response = self.dynamodb.query(
            TableName=self.tasks_table,
            IndexName="by-event",
            KeyConditionExpression="event_id = :e",
            ExpressionAttributeValues={":e": {"S": event_id}},
        )
        return [Task.from_item(item) for item in response.get("Items", [])]

    def needing_attention(self, status: TaskStatus, limit: int = 100) -> list[Task]:
        """Tasks in NEEDS_HUMAN or FAILED, newest first, from the sparse index."""
        if status not in ATTENTION_STATUSES:
            raise ValueError(f"only {sorted(s.value for s in ATTENTION_STATUSES)} are indexed")
        response = self.dynamodb.query(
            TableName=self.tasks_table,
            IndexName="by-attention",
            KeyConditionExpression="attention = :s",
            ExpressionAttributeValues={":s": {"S": status.value}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Task.from_item(item) for item in response.get("Items", [])]

    def transition(
        self,
        task: Task,
        to: TaskStatus,
        actor: str,
        detail: dict[str, Any] | None = None,
        *,
        actions: list[ActionRequest] | None = None,
        reason: str | None = None,
        route: str | None = None,
    ) -> Task:
        """Move ``task`` to ``to`` with one conditional write; return the task as stored afterwards.

        Whether the move is legal is decided before, in ``switchboard.lifecycle``; this only refuses a write
        whose status or version moved since ``task`` was read (``ConcurrentUpdate``)."""
        entry = history_entry(to, actor, detail or {}, previous=task.status)
        names = {"#s": "status", "#v": "version", "#h": "history", "#u": "updated_at"}
        values: dict[str, Any] = {
            ":to": to.value,
            ":from": task.status.value,
            ":v": task.version,
            ":one": 1,
            ":entry": [entry],
            ":now": entry["at"],
        }
        sets = ["#s = :to", "#v = #v + :one", "#h = list_append(#h, :entry)", "#u = :now"]
        names["#att"] = "attention"
        if to in ATTENTION_STATUSES:
            values[":attention"] = to.value
            sets.append("#att = :attention")
            removes = ""
        else:
            removes = " REMOVE #att"
        if actions is not None:
            names["#a"] = "actions"
            values[":actions"] = [action.model_dump(mode="json") for action in actions]
            sets.append("#a = :actions")
        for attribute, value in (("reason", reason), ("route", route)):
            if value is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = value
                sets.append(f"#{attribute} = :{attribute}")
        try:
            response = self.dynamodb.update_item(
                TableName=self.tasks_table,
                Key=self.key(task.task_id),
                UpdateExpression="SET " + ", ".join(sets) + removes,
                ConditionExpression="#s = :from AND #v = :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_dynamo(values),
                ReturnValues="ALL_NEW",
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise ConcurrentUpdate(f"task {task.task_id} moved past {task.status} v{task.version}") from None
        return Task.from_item(response["Attributes"])

    def complete_action(self, task_id: str, action_id: str, actor: str, detail: dict[str, Any]) -> Task:
        """Record one action's result; idempotent (a set of completed action ids): ``AlreadyRecorded`` when an
        earlier attempt recorded it. A task that does not exist is refused the same way (no item is made)."""
        entry = history_entry(None, actor, {"action_id": action_id, **detail})
        try:
            response = self._record_completion(task_id, action_id, entry)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise AlreadyRecorded(f"{action_id} of task {task_id}") from None
        return Task.from_item(response["Attributes"])

    def _record_completion(self, task_id: str, action_id: str, entry: dict[str, Any]) -> Any:
        return self.dynamodb.update_item(
            TableName=self.tasks_table,
            Key=self.key(task_id),
            UpdateExpression="ADD #c :ids, #v :one SET #h = list_append(#h, :entry), #u = :now",
            ConditionExpression="attribute_exists(pk) AND NOT contains(#c, :id)",
            ExpressionAttributeNames={
                "#c": "completed_actions",
                "#v": "version",
                "#h": "history",
                "#u": "updated_at",
            },
            ExpressionAttributeValues={
                ":ids": {"SS": [action_id]},
                ":id": {"S": action_id},
                ":one": {"N": "1"},
                ":entry": _serializer.serialize(json.loads(json.dumps([entry]), parse_float=Decimal)),
                ":now": {"S": entry["at"]},
            },
            ReturnValues="ALL_NEW",
        )

    def note(self, task_id: str, actor: str, detail: dict[str, Any]) -> None:
        """Append a history entry that changes no status (a failed attempt, a breaker event, a shadow call).

        It leaves the version alone, so it never makes a concurrent transition fail.
        """
        entry = history_entry(None, actor, detail)
        try:
            self.dynamodb.update_item(
                TableName=self.tasks_table,
                Key=self.key(task_id),
                UpdateExpression="SET #h = list_append(#h, :entry), #u = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#h": "history", "#u": "updated_at"},
                ExpressionAttributeValues=_to_dynamo({":entry": [entry], ":now": entry["at"]}),
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise TaskNotFound(task_id) from None


def history_entry(
    status: TaskStatus | None, actor: str, detail: dict[str, Any], previous: TaskStatus | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now_iso(), "actor": actor, "detail": detail}
    if status is not None:
        entry["status"] = status.value
    if previous is not None:
        entry["from"] = previous.value
    return entry
