"""The local runtime's moto patches hold for one moto release: the pin, the lock and the patches agree."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from tools.local import moto_iam
from tools.local.moto_fixes import VERIFIED_MOTO

ROOT = Path(__file__).resolve().parents[2]


def _pinned() -> str:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    specs = [spec for spec in dev if re.match(r"moto(\[|=|>|<|~|$)", spec)]
    assert len(specs) == 1, specs
    match = re.fullmatch(r"moto(\[[a-z,]+\])?==([0-9][0-9A-Za-z.]*)", specs[0])
    assert match, f"moto must be pinned exactly (==), not {specs[0]!r}: moto_fixes patches its internals"
    return match.group(2)


def _locked() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(package["version"] for package in lock["package"] if package["name"] == "moto")


def test_moto_is_pinned_to_the_release_the_fixes_were_verified_against() -> None:
    assert _pinned() == VERIFIED_MOTO, (
        f"pyproject pins moto {_pinned()}, tools/local/moto_fixes.py was verified against {VERIFIED_MOTO}: "
        "re-check the patches against the new release, then move VERIFIED_MOTO"
    )


def test_the_lock_and_the_installed_moto_are_the_pinned_release() -> None:
    assert _locked() == VERIFIED_MOTO
    assert version("moto") == VERIFIED_MOTO


def test_the_iam_patches_were_verified_against_the_same_release() -> None:
    assert moto_iam.VERIFIED_MOTO == VERIFIED_MOTO == _pinned()
