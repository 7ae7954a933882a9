"""The bench prices the tasks table's index writes by the indexes the template declares, so removing or
adding an index changes the dollar figure, and nothing else does."""

from __future__ import annotations

from typing import Any

from tools.bench.requests import index_write_units

ATTENTION = {
    "IndexName": "by-attention",
    "KeySchema": [{"AttributeName": "attention", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "ALL"},
}
BY_EVENT_KEYS = {
    "IndexName": "by-event-keys",
    "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
BY_EVENT_ALL = {**BY_EVENT_KEYS, "Projection": {"ProjectionType": "ALL"}}

MEASURED: dict[str, Any] = {
    "events": 10,
    "terminal": {"DONE": 8, "NEEDS_HUMAN": 1, "FAILED": 1},
    "transaction_items_per_event": {"task": 1.0},
}


def test_the_sparse_attention_index_is_written_for_the_tasks_that_need_a_person() -> None:
    assert index_write_units(MEASURED, task_units=2.0, indexes=[ATTENTION]) == 2 / 10 * 2.0


def test_an_index_every_task_enters_is_written_once_per_task_born() -> None:
    alone = index_write_units(MEASURED, task_units=2.0, indexes=[ATTENTION])
    assert index_write_units(MEASURED, task_units=2.0, indexes=[ATTENTION, BY_EVENT_KEYS]) == alone + 1.0
    assert index_write_units(MEASURED, task_units=2.0, indexes=[ATTENTION, BY_EVENT_ALL]) == alone + 2.0


def test_no_index_costs_nothing() -> None:
    assert index_write_units(MEASURED, task_units=2.0, indexes=[]) == 0.0


def test_the_template_declares_only_the_attention_index() -> None:
    from tools.bench.common import tasks_table_indexes

    assert [index["IndexName"] for index in tasks_table_indexes()] == ["by-attention"]
