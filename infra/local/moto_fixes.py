"""Two corrections to moto, applied to the in-process moto server the runtime starts.

Verified against moto 5.2: FIFO message-group blocking works (a group with a message in flight does not
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
"""

from __future__ import annotations

import threading
from typing import Any

_DYNAMODB_LOCK = threading.Lock()


def apply() -> None:
    """Patch moto's SQS model and serialize its DynamoDB requests (process-wide, idempotent)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue, SQSBackend

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
