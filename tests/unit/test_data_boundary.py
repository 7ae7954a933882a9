"""The data-access boundary holds: only the adapters (``switchboard.aws``, ``switchboard.sqs``,
``switchboard.dynamo``) import boto3 or botocore or reach for a client's exceptions, and every key format of
the tables is spelled in ``switchboard/dynamo/keys.py`` alone."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

LIBRARY = ROOT / "layers" / "shared" / "python" / "switchboard"
ADAPTERS = {LIBRARY / "aws.py", LIBRARY / "sqs.py", *sorted((LIBRARY / "dynamo").glob("*.py"))}
KEY_PREFIXES = (
    "task#",
    "seen#",
    "processed#",
    "content#",
    "author#",
    "rate#",
    "budget#",
    "llmcache#",
    "breaker#",
    "cursor#",
    "triage#",
)


def modules() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py"))


def code_strings(tree: ast.AST) -> list[str]:
    """Every string literal that is not a docstring (f-string parts included)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_only_the_adapters_import_the_aws_sdk_or_catch_its_exceptions() -> None:
    offenders = []
    for path in modules():
        if path in ADAPTERS:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                name.split(".")[0] in {"boto3", "botocore"} for name in names
            ):
                offenders.append(f"{path.relative_to(LIBRARY)}:{node.lineno} imports {names}")
            if isinstance(node, ast.Attribute) and node.attr == "exceptions":
                offenders.append(f"{path.relative_to(LIBRARY)}:{node.lineno} reaches for .exceptions")
    assert offenders == []


def test_key_formats_are_spelled_only_in_the_keys_module() -> None:
    keys = LIBRARY / "dynamo" / "keys.py"
    assert any(s.startswith(KEY_PREFIXES) for s in code_strings(ast.parse(keys.read_text())))
    offenders = [
        f"{path.relative_to(LIBRARY)}: {text!r}"
        for path in modules()
        if path != keys
        for text in code_strings(ast.parse(path.read_text()))
        if text.startswith(KEY_PREFIXES)
    ]
    assert offenders == []
