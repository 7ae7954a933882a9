"""The cold-start table reports import + first call beside import alone, and a first call that did not do
its work fails the bench instead of being timed."""

from __future__ import annotations

from typing import Any

import pytest

from tools.bench.coldstart import _check_outcome, markdown


def _row(subject: str, function: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "function": function,
        "import_ms_median": 100.0,
        "import_ms_min": 90.0,
        "import_ms_max": 110.0,
        "vs_boto3_x": 1.0,
        "cpu_ms_median": 100.0,
        "cpu_vs_boto3_x": 1.0,
        "peak_rss_mib_median": 30.0,
        "imports_anthropic": False,
        **extra,
    }


def test_the_table_shows_import_and_first_call_beside_import_alone() -> None:
    result = {
        "runs": 5,
        "note": "n",
        "functions_importing_anthropic": [],
        "rows": [
            _row(
                "ingest",
                "ingest",
                import_and_call_ms_median=300.0,
                with_call_vs_boto3_x=1.5,
                with_call_cpu_vs_boto3_x=1.4,
            ),
            _row("plan", "plan"),
        ],
    }
    lines = markdown(result).splitlines()
    header = next(line for line in lines if line.startswith("| subject"))
    assert "import + first call ms (median)" in header and "vs boto3 + one call" in header
    assert next(line for line in lines if line.startswith("| ingest")).count("| 300 | 1.50x | 1.40x |") == 1
    assert "| - | - | - |" in next(line for line in lines if line.startswith("| plan"))


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("ingest", {"statusCode": 401}),
        ("classify", {"batchItemFailures": [{"itemIdentifier": "m1"}]}),
        ("act", None),
        (None, ""),
    ],
)
def test_a_first_call_that_did_not_do_its_work_fails_the_bench(name: str | None, outcome: Any) -> None:
    with pytest.raises(RuntimeError, match="did not do its work"):
        _check_outcome(name, outcome)


def test_a_first_call_that_did_its_work_passes() -> None:
    _check_outcome("ingest", {"statusCode": 202})
    _check_outcome("health", {"statusCode": 503})
    _check_outcome("act", {"batchItemFailures": []})
    _check_outcome(None, "message-id")
