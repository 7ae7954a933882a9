"""One DynamoDB table, through an injected or lazily built client, with AWS's errors translated.

Every call goes through ``switchboard.aws.translated``: a failed condition (or a transaction it cancelled)
becomes ``ConditionFailed``, which never leaves the adapters (each adapter turns it into its own answer: a
domain error such as ``AlreadyRecorded``, ``BudgetExceeded``, ``ConcurrentUpdate``, or a "lost the race"
result); AWS's own trouble becomes ``DependencyUnavailable`` or ``DependencyRefused``.
"""

from __future__ import annotations

from typing import Any

from switchboard.aws import LazyClient, translated


class Table:
    """A table's item calls (``Key``/``Item`` in attribute-value form, as ``switchboard.dynamo.keys`` spells
    them). Every call goes through ``translated``."""

    dynamodb = LazyClient("dynamodb")

    def __init__(self, name: str, dynamodb: Any = None) -> None:
        self.name = name
        self._dynamodb = dynamodb

    def get(self, key: dict[str, Any], *, consistent: bool = True, projection: str | None = None) -> Any:
        """The item, or None."""
        request: dict[str, Any] = {"TableName": self.name, "Key": key, "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        with translated("dynamodb", "GetItem"):
            return self.dynamodb.get_item(**request).get("Item")

    def put(self, item: dict[str, Any], **conditions: Any) -> None:
        with translated("dynamodb", "PutItem"):
            self.dynamodb.put_item(TableName=self.name, Item=item, **conditions)

    def delete(self, key: dict[str, Any]) -> None:
        with translated("dynamodb", "DeleteItem"):
            self.dynamodb.delete_item(TableName=self.name, Key=key)

    def update(self, key: dict[str, Any], expression: str, **request: Any) -> dict[str, Any]:
        """``UpdateItem``; the returned ``Attributes`` (empty unless ``ReturnValues`` asks for them)."""
        with translated("dynamodb", "UpdateItem"):
            response = self.dynamodb.update_item(
                TableName=self.name, Key=key, UpdateExpression=expression, **request
            )
        attributes: dict[str, Any] = response.get("Attributes", {})
        return attributes

    def query(self, **request: Any) -> list[dict[str, Any]]:
        with translated("dynamodb", "Query"):
            items: list[dict[str, Any]] = self.dynamodb.query(TableName=self.name, **request).get("Items", [])
        return items

    def query_all(self, **request: Any) -> list[dict[str, Any]]:
        """``Query``, every page (a page stops at 1 MB: https://docs.aws.amazon.com/amazondynamodb/latest/
        developerguide/Query.Pagination.html)."""
        items: list[dict[str, Any]] = []
        while True:
            with translated("dynamodb", "Query"):
                page = self.dynamodb.query(TableName=self.name, **request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def scan(self, limit: int, **request: Any) -> list[dict[str, Any]]:
        """``Scan``, page after page until ``limit`` items (an operator's listing, never a hot path)."""
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            with translated("dynamodb", "Scan"):
                page = self.dynamodb.scan(TableName=self.name, **request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
        return items[:limit]

    def transact(self, items: list[dict[str, Any]]) -> None:
        """``TransactWriteItems`` (each item names its own table): all of them, or ``ConditionFailed``."""
        with translated("dynamodb", "TransactWriteItems"):
            self.dynamodb.transact_write_items(TransactItems=items)
