"""The DynamoDB adapter: every key format of the tables (``keys``), the item (de)serialization (``items``),
the one place DynamoDB's errors are translated (``table``), and the adapters of the memory-table ports
(``switchboard.ports``). Nothing above this package sees a boto exception or spells a key.

The task table's adapter is ``switchboard.state.TaskStore``, built on the same ``Keys``, ``Table`` and
``items``.
"""

from switchboard.aws import ConditionFailed, translated
from switchboard.dynamo.breaker import DynamoBreakerStore
from switchboard.dynamo.items import from_item, to_item, to_value
from switchboard.dynamo.keys import TASKS_BY_ATTENTION_INDEX, Key, Keys
from switchboard.dynamo.llm import DynamoBudgetLedger, DynamoLlmCache
from switchboard.dynamo.memory import (
    DynamoAuthorDirectory,
    DynamoCursorStore,
    DynamoReportStore,
    DynamoSeenLog,
)
from switchboard.dynamo.table import Table

__all__ = [
    "TASKS_BY_ATTENTION_INDEX",
    "ConditionFailed",
    "DynamoAuthorDirectory",
    "DynamoBreakerStore",
    "DynamoBudgetLedger",
    "DynamoCursorStore",
    "DynamoLlmCache",
    "DynamoReportStore",
    "DynamoSeenLog",
    "Key",
    "Keys",
    "Table",
    "from_item",
    "to_item",
    "to_value",
    "translated",
]
