"""Plain Python values ⇄ DynamoDB's attribute-value form (boto3's serializer, loaded on first use)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any


@cache
def _codecs() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer  # lazily: it imports boto3

    return TypeSerializer(), TypeDeserializer()


def to_value(value: Any) -> dict[str, Any]:
    """One value (JSON-compatible; floats become numbers) as an attribute value."""
    serialized: dict[str, Any] = _codecs()[0].serialize(json.loads(json.dumps(value), parse_float=Decimal))
    return serialized


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    """A dict of plain values as an item (or as ``ExpressionAttributeValues``)."""
    plain = json.loads(json.dumps(value, default=str), parse_float=Decimal)
    serializer = _codecs()[0]
    return {key: serializer.serialize(item) for key, item in plain.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as plain values: whole numbers as ``int``, others as ``float``, sets as lists."""
    deserializer = _codecs()[1]
    return _plain({key: deserializer.deserialize(value) for key, value in item.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    """A number attribute: floats rounded to milliseconds, integers as they are."""
    return {"N": repr(round(value, 3)) if isinstance(value, float) else str(value)}
