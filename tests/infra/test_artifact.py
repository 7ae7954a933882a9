"""What the Lambda artifact holds: a synth refuses an empty dependency layer, and the Powertools layer is the
release that the lock file locks."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from infra import lambda_defaults
from infra.lambda_defaults import (
    DEPS_LAYER_CONTEXT,
    DEPS_LAYER_PACKAGES,
    POWERTOOLS_LAYER_ARN,
    POWERTOOLS_LAYER_VERSIONS,
    POWERTOOLS_VERSION,
    SDK_LAYER_DIR,
    DepsLayerMissingError,
    check_deps_layer_dir,
    check_sdk_layer_dir,
)
from infra.stack import build_app

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def locked_version(package: str) -> str:
    with LOCK.open("rb") as file:
        packages = tomllib.load(file)["package"]
    [version] = [entry["version"] for entry in packages if entry["name"] == package]
    return str(version)


def test_synth_fails_naming_make_layers_when_the_deps_layer_folder_is_empty(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()

    with pytest.raises(DepsLayerMissingError, match=r"missing anthropic, pydantic.*run `make layers`"):
        build_app(outdir=str(tmp_path / "out"), context={DEPS_LAYER_CONTEXT: str(tmp_path)}, nag_checks=False)


def test_synth_fails_when_the_deps_layer_folder_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(DepsLayerMissingError, match="make layers"):
        check_deps_layer_dir(tmp_path / "nowhere")


def test_an_incomplete_deps_layer_names_what_is_missing(tmp_path: Path) -> None:
    for name in DEPS_LAYER_PACKAGES:
        if name != "pydantic_core":
            (tmp_path / "python" / name).mkdir(parents=True)

    with pytest.raises(DepsLayerMissingError) as raised:
        check_deps_layer_dir(tmp_path)

    assert "missing pydantic_core:" in str(raised.value)


def test_the_deps_layer_the_makefile_built_passes_the_check() -> None:
    assert check_deps_layer_dir() == lambda_defaults.DEPS_LAYER_DIR


def test_the_sdk_layer_holds_the_boto3_that_the_durable_execution_sdk_requires() -> None:
    """The plan function's boto3 is the layer's (tests/infra/test_functions.py): it must satisfy the durable
    execution SDK's own requirement, read from the SDK's metadata, and be the lock's boto3."""
    from packaging.requirements import Requirement

    assert check_sdk_layer_dir() == SDK_LAYER_DIR
    requires = importlib.metadata.requires("aws-durable-execution-sdk-python") or []
    [boto3] = [Requirement(line) for line in requires if Requirement(line).name == "boto3"]
    shipped = {
        name: path.name.removeprefix(f"{name}-").removesuffix(".dist-info")
        for name in ("boto3", "botocore")
        for path in (SDK_LAYER_DIR / "python").glob(f"{name}-*.dist-info")
    }
    assert shipped == {"boto3": locked_version("boto3"), "botocore": locked_version("botocore")}
    assert boto3.specifier.contains(shipped["boto3"]), (boto3, shipped)


def test_synth_fails_naming_make_layers_when_the_sdk_layer_is_incomplete(tmp_path: Path) -> None:
    (tmp_path / "python" / "boto3").mkdir(parents=True)
    with pytest.raises(
        DepsLayerMissingError, match=r"AWS SDK layer .* missing botocore, s3transfer.*make layers"
    ):
        check_sdk_layer_dir(tmp_path)


def test_the_deps_layer_ships_no_pydantic_settings() -> None:
    """The settings read the environment themselves (``switchboard.settings``): pydantic-settings and its
    python-dotenv are no dependency of the functions, so the layer the Makefile built holds neither."""
    site = lambda_defaults.DEPS_LAYER_DIR / "python"

    assert not (site / "pydantic_settings").exists()
    assert not (site / "dotenv").exists()


def test_the_powertools_layer_is_the_locked_powertools_release(template: Template) -> None:
    locked = locked_version("aws-lambda-powertools")

    assert locked == POWERTOOLS_VERSION, (
        f"uv.lock locks aws-lambda-powertools {locked} but the public layer is pinned to "
        f"{POWERTOOLS_VERSION}: move POWERTOOLS_VERSION in infra/lambda_defaults.py with the lock"
    )
    assert POWERTOOLS_LAYER_ARN.endswith(f"/python3.13/{locked}}}}}")
    functions = template.find_resources("AWS::Lambda::Function").values()
    assert {function["Properties"]["Layers"][0] for function in functions} == {POWERTOOLS_LAYER_ARN}


def test_every_cited_layer_number_names_a_release_and_a_dated_source() -> None:
    for release, (layer_version, source) in POWERTOOLS_LAYER_VERSIONS.items():
        assert SEMVER.match(release)
        assert layer_version > 0
        assert re.search(r"\d{4}-\d{2}(-\d{2})?", source), f"{release}: the source has no date"


def test_the_layer_parameter_names_the_functions_runtime_and_architecture() -> None:
    assert "/arm64/python3.13/" in POWERTOOLS_LAYER_ARN
    assert lambda_defaults.RUNTIME.name == "python3.13"
    assert lambda_defaults.ARCHITECTURE.name == "arm64"
