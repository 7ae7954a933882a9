"""Two corrections to moto, applied to the in-process moto server the runtime starts.

They patch moto's internals, so they hold for one moto release: ``VERIFIED_MOTO``, the version that
pyproject.toml pins. Moving the pin means re-checking every patch below against the new release (the tests in
``tests/integration/test_local_runtime.py`` that name ``moto_fixes``), then moving ``VERIFIED_MOTO`` with it;
``tests/unit/test_moto_pin.py`` fails while the two disagree.

Verified against moto 5.2.5: FIFO message-group blocking works (a group with a message in flight does not
deliver its next message), and `ReceiveMessage` moves a message to the dead-letter queue once its receive
count has reached the redrive policy's `maxReceiveCount`, keeping its group id and deduplication id.

One bug remains. When several messages of one group are in flight and become visible again together (a Lambda
batch that failed, or a partial failure that reported the rest of the group), moto releases them one by one
while it walks the queue. The head of the group is then still "blocked" by its successors, which are in flight
no longer: moto skips it and delivers the second message first, out of order, and the head reaches the DLQ
late. AWS blocks a group only on messages that are really in flight. The patch releases every message whose
visibility timeout has expired before a receive starts, and counts only invisible messages as blocking.

The second: moto's DynamoDB backend is not thread-safe. A transaction deep-copies the tables it touches while
the server's other request threads write to them, and under load that copy fails with "dictionary changed
size during iteration" (a 500 to the caller; seen with tens of concurrent workers). DynamoDB requests are
therefore handled one at a time; SQS and the others stay concurrent.

Two costs that grow with use, measured with py-spy on the runtime under `make chaos` (the moto process was
the bottleneck, at 100 % of a core):
- moto's request dispatcher finds the backend for a host by listing moto's package directory (a `listdir`
  and ~200 `isdir` calls) and matching ~200 URL patterns, for every request, under one global lock. The
  answer depends only on the host, so it is remembered per host.
- `TransactWriteItems` deep-copies every table it touches, all items, before it starts, to roll back on a
  failed condition: each claim costs O(table size), so a run slows down as it goes and the copies churn
  memory. Since DynamoDB requests are serialized, the rollback only needs the items the transaction touches:
  the snapshot shares every other item with the live table and deep-copies just those.

A third, measured with py-spy on the runtime under the `/label` load (2026-12-02): moto's SQS model reads
the clock through `unix_time_millis()`, which builds two datetimes (and imports `datetime.UTC`) per call,
and calls it twice per message of the queue (`visible`, `delayed`) each time it lists a queue's messages,
which `SendMessage` does three times (`Queue.attributes`, for its `ContentBasedDeduplication`, counts the
visible, delayed and in-flight messages) and every `ReceiveMessage` once or more. With a backlog of a few
hundred messages that was a tenth of the runtime's samples. The SQS model reads `time.time()` instead (the
same milliseconds since the epoch; an explicit datetime argument still goes to moto's own), and lists a
queue's visible messages with one clock read.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import defaultdict
from typing import Any, Final

#: The moto release these patches were verified against (and pinned in pyproject.toml).
VERIFIED_MOTO: Final = "5.2.5"

_DYNAMODB_LOCK = threading.Lock()
_TRANSACTION = threading.local()  # .snapshots: id(live table) → the snapshot its rollback restores


def fifo_dedup_outlives_delete() -> None:
    """SQS keeps a FIFO queue's deduplication ids for the 5-minute window "even after the message has been
    received and deleted" ("Amazon SQS FIFO queue key terms", https://docs.aws.amazon.com/AWSSimpleQueueService/
    latest/SQSDeveloperGuide/FIFO-key-terms.html, read 2026-12-02); moto 5.2.5 compares a new message only
    with the messages still in the queue, so a send repeated after the first was consumed is delivered again.
    The patch remembers each FIFO queue's deduplication ids for the window (process-wide, idempotent).

    Applied by the test suite's moto server (``tests/conftest.py``); the local runtime does not apply it yet
    (there, the classifier's claim absorbs such a repeat)."""
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue

    if getattr(Queue, "_switchboard_dedup_fix", False):
        return
    original_add = Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        dedup_id = message.deduplication_id
        if self.fifo_queue and dedup_id is not None and message.sent_timestamp is not None:
            sent: dict[str, int] = self.__dict__.setdefault("_switchboard_dedup_ids", {})
            now = message.sent_timestamp
            for known, at in list(sent.items()):
                if (now - at) / 1000 >= DEDUPLICATION_TIME_IN_SECONDS:
                    del sent[known]
            if dedup_id in sent:
                return
            sent[dedup_id] = now
        original_add(self, message)

    Queue.add_message = add_message  # type: ignore[method-assign]
    Queue._switchboard_dedup_fix = True  # type: ignore[attr-defined]


def apply() -> None:
    """Patch moto's SQS model and serialize its DynamoDB requests (process-wide, idempotent)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue, SQSBackend

    _remember_backend_per_host()
    _snapshot_only_touched_items()
    _cheap_sqs_clock()
    if not getattr(DynamoHandler, "_switchboard_serialized", False):
        original_call = DynamoHandler.call_action

        def call_action(self: Any) -> Any:
            with _DYNAMODB_LOCK:
                return original_call(self)

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        DynamoHandler._switchboard_serialized = True  # type: ignore[attr-defined]

    if getattr(Queue, "_switchboard_fifo_fix", False):
        return

    def pending_message_groups(self: Any) -> set[str]:
        return {
            message.group_id
            for message in self._pending_messages
            if message.group_id is not None and not message.visible
        }

    original_receive = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in list(queue.pending_messages):
            if message.visible:
                queue.pending_messages.discard(message)
        return original_receive(self, queue_name, *args, **kwargs)

    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[method-assign,assignment]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue._switchboard_fifo_fix = True  # type: ignore[attr-defined]


def _cheap_sqs_clock() -> None:
    import moto.sqs.models as sqs_models

    if getattr(sqs_models, "_switchboard_clock", False):
        return
    original = sqs_models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original(dt))

    def messages(self: Any) -> list[Any]:  # moto's: `message.visible and not message.delayed`, one clock read
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    sqs_models.unix_time_millis = unix_time_millis
    sqs_models.Queue.messages = property(messages)  # type: ignore[method-assign,assignment]
    sqs_models._switchboard_clock = True  # type: ignore[attr-defined]


def _remember_backend_per_host() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_switchboard_cached", False):
        return
    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in known:
            known[host] = original(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    DomainDispatcherApplication._switchboard_cached = True  # type: ignore[attr-defined]


class _CopyForTransactions:
    """Stands in for the `copy` module inside moto.dynamodb.models: a deep copy of a table that a running
    transaction prepared a snapshot for returns that snapshot; everything else is copied as before."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        snapshots = getattr(_TRANSACTION, "snapshots", None)
        if snapshots and id(value) in snapshots:
            return snapshots[id(value)]
        return copy.deepcopy(value, memo)


def _snapshot(table: Any, keys: list[dict[str, Any]]) -> Any:
    """The table as it is now, for a rollback: its own item index, sharing the items nobody touches."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    clone = copy.copy(table)
    ranged = table.range_key_attr is not None
    clone.items = defaultdict(dict)
    for hash_value, value in table.items.items():
        clone.items[hash_value] = dict(value) if ranged else value
    for key in keys:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if ranged else None
        current = table.get_item(hash_value, range_value)
        if current is None:
            continue
        if ranged:
            clone.items[hash_value][range_value] = copy.deepcopy(current)
        else:
            clone.items[hash_value] = copy.deepcopy(current)
    return clone


def _snapshot_only_touched_items() -> None:
    import moto.dynamodb.models as models

    backend = models.DynamoDBBackend
    if getattr(backend, "_switchboard_snapshots", False):
        return
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots: dict[int, Any] = {}
        try:
            touched: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for entry in transact_items:
                operation = next(iter(entry.values()))
                table = self.tables[operation["TableName"]]
                key = operation.get("Key") or {
                    name: operation["Item"][name]
                    for name in (table.hash_key_attr, table.range_key_attr)
                    if name is not None
                }
                touched[operation["TableName"]].append(key)
            for name, keys in touched.items():
                snapshots[id(self.tables[name])] = _snapshot(self.tables[name], keys)
        except Exception:  # noqa: BLE001 (a malformed request: moto's own copy, then moto's own error)
            snapshots = {}
        _TRANSACTION.snapshots = snapshots
        try:
            original(self, transact_items)
        finally:
            _TRANSACTION.snapshots = None

    models.copy = _CopyForTransactions()  # type: ignore[assignment]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    backend._switchboard_snapshots = True  # type: ignore[attr-defined]
