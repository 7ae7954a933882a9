"""A local worker loads the deployed artifact: the code asset and layer assets from cdk.out, the local build
of the dependency layer, the Powertools layer's stand-in and the runtime's boto3, and nothing else.

The probe is the synthesized stack's health function with a probe module added to a copy of its code asset and
a copy of the shared layer asset that lacks one module of the source tree; the dependency layer is the real
staged asset (replaced, as the runtime does, by build/layers/deps-local)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.local.artifact import LocalLayers
from tools.local.functions import FunctionSpec, WorkerPool
from tools.local.model import AssetLocator, function_specs, register_runtime_resources
from tools.local.template import Resolver, Template

ROOT = Path(__file__).resolve().parents[2]
CDK_OUT = ROOT / "cdk.out"
SOURCE_ONLY_MODULE = "triage"  # in layers/shared/python/switchboard/, removed from the probe's layer copy

PROBE = """
import importlib, json, os, sys

def _importable(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "file": getattr(module, "__file__", None)}

def handler(event, context):
    return {
        "sys_path": sys.path,
        "pythonpath": os.environ["PYTHONPATH"].split(os.pathsep),
        "imports": {name: _importable(name) for name in event["modules"]},
        "powertools_version": importlib.import_module("aws_lambda_powertools.shared.version").VERSION,
        "no_site": sys.flags.no_site,
    }
"""


def _layer(resources: dict[str, Any], fragment: str) -> str:
    [logical_id] = [
        logical_id
        for logical_id, body in resources.items()
        if body["Type"] == "AWS::Lambda::LayerVersion" and fragment in body["Metadata"]["aws:cdk:path"]
    ]
    return logical_id


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FunctionSpec, WorkerPool]]:
    document = json.loads((CDK_OUT / "Switchboard.template.json").read_text())
    resources = document["Resources"]
    health_id = next(
        logical_id
        for logical_id, body in resources.items()
        if body["Type"] == "AWS::Lambda::Function"
        and body["Properties"].get("Environment", {}).get("Variables", {}).get("SWITCHBOARD_FUNCTION")
        == "health"
    )
    shared_id, deps_id = _layer(resources, "SharedLayer"), _layer(resources, "PythonDepsLayer")
    health, shared, deps = resources[health_id], resources[shared_id], resources[deps_id]
    work = tmp_path_factory.mktemp("artifact")
    code = work / health["Metadata"]["aws:asset:path"]
    shutil.copytree(CDK_OUT / health["Metadata"]["aws:asset:path"], code)
    (code / "probe.py").write_text(PROBE)
    layer = work / shared["Metadata"]["aws:asset:path"]
    shutil.copytree(CDK_OUT / shared["Metadata"]["aws:asset:path"], layer)
    (layer / "python" / "switchboard" / f"{SOURCE_ONLY_MODULE}.py").unlink()
    # The probe imports anthropic and pydantic cold; on a loaded machine that outlasts health's 5 s timeout,
    # which is not what these tests are about, so the probe gets a minute.
    health["Properties"] = {
        **health["Properties"],
        "Handler": "probe.handler",
        "Environment": {},
        "Timeout": 60,
    }
    deps["Metadata"] = {
        **deps["Metadata"],
        "aws:asset:path": str(CDK_OUT / deps["Metadata"]["aws:asset:path"]),
    }
    probe_template = work / "Switchboard.template.json"
    probe_template.write_text(
        json.dumps({"Resources": {"Probe": health, shared_id: shared, deps_id: deps}}), encoding="utf-8"
    )
    template = Template.load(probe_template)
    resolver = Resolver(template)
    register_runtime_resources(template, resolver, "http://127.0.0.1:9")
    spec = function_specs(template, resolver, AssetLocator(ROOT))["Probe"]
    environment = {"PYTHONPATH": os.pathsep.join(map(str, spec.python_path)), "PATH": os.environ["PATH"]}
    pool = WorkerPool(spec, environment, size=1, log_path=work / "probe.log")
    try:
        yield spec, pool
    finally:
        pool.close()


def _run(pool: WorkerPool, *modules: str) -> dict[str, Any]:
    result = pool.invoke({"modules": list(modules)})
    assert result.ok, result.error
    payload: dict[str, Any] = result.payload
    return payload


def test_the_worker_imports_switchboard_from_the_cdk_out_layer_asset(
    probe: tuple[FunctionSpec, WorkerPool],
) -> None:
    spec, pool = probe
    found = _run(pool, "switchboard", "switchboard.catalog", "handler")

    switchboard = Path(found["imports"]["switchboard"]["file"])
    assert switchboard.is_relative_to(spec.python_path[1]), switchboard
    assert spec.python_path[1].parent.name.startswith("asset.")
    assert not switchboard.is_relative_to(ROOT / "layers")
    assert Path(found["imports"]["handler"]["file"]).parent == spec.code_dir
    assert spec.code_dir is not None and spec.code_dir.name.startswith("asset.")


def test_a_module_only_in_the_source_tree_is_not_importable(probe: tuple[FunctionSpec, WorkerPool]) -> None:
    _, pool = probe
    assert (ROOT / "layers" / "shared" / "python" / "switchboard" / f"{SOURCE_ONLY_MODULE}.py").exists()

    found = _run(pool, f"switchboard.{SOURCE_ONLY_MODULE}", "tools", "infra", "pytest", "moto")

    for name in (f"switchboard.{SOURCE_ONLY_MODULE}", "tools", "infra", "pytest", "moto"):
        assert found["imports"][name]["ok"] is False, name


def test_the_path_is_the_code_the_layers_last_first_and_the_runtime_and_nothing_else(
    probe: tuple[FunctionSpec, WorkerPool],
) -> None:
    spec, pool = probe
    layers = LocalLayers(ROOT)
    found = _run(pool, "anthropic", "pydantic_core", "boto3", "aws_lambda_powertools")

    assert found["no_site"] == 1
    assert found["pythonpath"] == [str(path) for path in spec.python_path]
    _, shared, deps, powertools, runtime = spec.python_path
    assert (shared.name, deps, powertools, runtime) == (
        "python",
        layers.deps_local_site,
        layers.powertools_site,
        layers.runtime_site,
    )
    # Besides the standard library of the base interpreter, sys.path is exactly the artifact's path.
    beyond_stdlib = [entry for entry in found["sys_path"] if not entry.startswith(sys.base_prefix)]
    assert beyond_stdlib == [str(path) for path in spec.python_path]
    assert all("site-packages" not in entry for entry in found["sys_path"])
    # The arm64/3.13 dependency layer is replaced by the local build of the same pins.
    assert Path(found["imports"]["pydantic_core"]["file"]).is_relative_to(layers.deps_local_site)
    assert Path(found["imports"]["anthropic"]["file"]).is_relative_to(layers.deps_local_site)
    assert Path(found["imports"]["boto3"]["file"]).is_relative_to(layers.runtime_site)
    assert Path(found["imports"]["aws_lambda_powertools"]["file"]).is_relative_to(layers.powertools_site)


def test_the_powertools_stand_in_is_the_release_the_layer_is_pinned_to(
    probe: tuple[FunctionSpec, WorkerPool],
) -> None:
    from infra.lambda_defaults import POWERTOOLS_VERSION

    _, pool = probe
    assert _run(pool)["powertools_version"] == POWERTOOLS_VERSION
