"""The library's shape, as the architecture promises it: one module of error classes, and no configuration
read from the environment outside the settings (the adapters read none either: botocore does, for them)."""

from __future__ import annotations

import ast

import switchboard.errors as errors
from tests.conftest import ROOT

LIBRARY = ROOT / "layers/shared/python/switchboard"
_ERRORS = frozenset(name for name, value in vars(errors).items() if isinstance(value, type))


def test_every_error_class_of_the_library_is_defined_in_switchboard_errors() -> None:
    """One module of error classes (the adapters' internal ConditionFailed, never raised past them, aside)."""
    defined_elsewhere = sorted(
        f"{path.relative_to(LIBRARY)}:{node.name}"
        for path in LIBRARY.rglob("*.py")
        if path.name != "errors.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(base, ast.Name) and (base.id.endswith(("Error", "Exception")) or base.id in _ERRORS)
            for base in node.bases
        )
        and node.name != "ConditionFailed"
    )
    assert defined_elsewhere == []


def test_only_the_settings_read_the_environment() -> None:
    readers = sorted(
        str(path.relative_to(LIBRARY))
        for path in LIBRARY.rglob("*.py")
        if "os.environ" in path.read_text() or "getenv(" in path.read_text()
    )
    assert readers == ["settings.py"]
