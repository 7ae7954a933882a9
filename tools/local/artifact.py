"""What a local worker imports: the function's deployed artifact, as Lambda loads it, and nothing else.

On Lambda a Python function's import path is its code (`/var/task`), then its layers, unpacked into `/opt`
(each layer's `python/` and `python/lib/python3.x/site-packages/`), then the runtime's own libraries (boto3
and its dependencies). Sources: "Packaging your layer content", AWS Lambda Developer Guide,
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html ("Layer paths for each Lambda runtime"),
and "Working with layers for Python Lambda functions",
https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html (both read 2026-12-01).

Locally, a worker runs `python -S -P` (no site-packages, no script folder on `sys.path`) with a PYTHONPATH of
exactly:
1. the function's code asset, `cdk.out/asset.<hash>/` (the template's `Metadata.aws:asset:path`);
2. its layers, the last one first: Lambda unpacks them in order into one `/opt`, a later layer's files
   overwriting an earlier one's, so on separate folders the later one must come first. A layer from the
   template (`AWS::Lambda::LayerVersion`) is its staged asset; the dependency layer's asset is built for arm64
   and Python 3.13 and cannot load here, so `build/layers/deps-local/` stands in for it: the same packages at
   the same versions (its `requirements.txt`, exported from uv.lock), for this machine's platform and
   interpreter. The public Powertools layer is `build/local-runtime/powertools/`: the locked Powertools
   release (the one `infra.lambda_defaults.POWERTOOLS_VERSION` pins the layer to) and its tracer extra;
3. `build/local-runtime/runtime/`: what the Lambda Python runtime itself provides, boto3 and its dependencies.

`build()` writes the three local folders from this interpreter's environment (the project venv, synced from
uv.lock), copying (hard-linking where it can) exactly the files each distribution's RECORD lists. `make
local-runtime` runs it; the runtime runs it too when a folder is missing or older than uv.lock or the
dependency layer's requirements.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger("switchboard.local")

PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
LOCAL_RUNTIME_DIR: Final = Path("build") / "local-runtime"
RUNTIME_SITE: Final = LOCAL_RUNTIME_DIR / "runtime"
POWERTOOLS_SITE: Final = LOCAL_RUNTIME_DIR / "powertools"
DEPS_LAYER: Final = Path("build") / "layers" / "deps"
DEPS_LOCAL_LAYER: Final = Path("build") / "layers" / "deps-local"
STAMP: Final = ".built"

#: What the Lambda Python runtime provides besides the standard library: the AWS SDK and its dependencies.
RUNTIME_DISTRIBUTIONS: Final = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)
#: The public Powertools layer: Powertools, its own dependencies, and the tracer extra the functions use.
POWERTOOLS_DISTRIBUTIONS: Final = ("aws-lambda-powertools", "typing-extensions", "aws-xray-sdk", "wrapt")
#: The public layer's ARN (or the SSM parameter that resolves to it) names this account and layer.
POWERTOOLS_LAYER_MARKERS: Final = ("AWSLambdaPowertoolsPython", "/aws/service/powertools/python/")

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


class ArtifactError(Exception):
    """The local stand-in for a layer or the runtime cannot be built or found."""


@dataclass(frozen=True)
class LocalLayers:
    """Where the local folders live, under one project root."""

    root: Path = PROJECT_ROOT

    @property
    def runtime_site(self) -> Path:
        return self.root / RUNTIME_SITE

    @property
    def powertools_site(self) -> Path:
        return self.root / POWERTOOLS_SITE

    @property
    def deps_requirements(self) -> Path:
        return self.root / DEPS_LAYER / "requirements.txt"

    @property
    def deps_local(self) -> Path:
        return self.root / DEPS_LOCAL_LAYER

    @property
    def deps_local_site(self) -> Path:
        return self.deps_local / "python"

    def is_deps_layer(self, asset: Path) -> bool:
        """Whether a staged layer asset is the dependency layer (the same files as build/layers/deps)."""
        return _same_tree(asset / "python", self.root / DEPS_LAYER / "python")

    def runtime(self) -> Path:
        """The runtime's libraries (boto3 …), built if missing or older than uv.lock."""
        return self._ensure(self.runtime_site, lambda: RUNTIME_DISTRIBUTIONS)

    def powertools(self) -> Path:
        """The stand-in for the public Powertools layer, built if missing or older than uv.lock."""
        return self._ensure(self.powertools_site, lambda: POWERTOOLS_DISTRIBUTIONS)

    def deps(self) -> Path:
        """The dependency layer for this platform and interpreter, built if missing or stale."""
        site = self._ensure(self.deps_local_site, lambda: _pinned(self.deps_requirements))
        shutil.copyfile(self.deps_requirements, self.deps_local / "requirements.txt")
        return site

    def build(self) -> None:
        for folder in (self.runtime_site, self.powertools_site, self.deps_local_site):
            (folder / STAMP).unlink(missing_ok=True)
        self.runtime()
        self.powertools()
        self.deps()

    def _ensure(self, folder: Path, distributions: Callable[[], Iterable[str | tuple[str, str]]]) -> Path:
        sources = [self.root / "uv.lock", self.deps_requirements]
        newest = max((path.stat().st_mtime for path in sources if path.exists()), default=0.0)
        stamp = folder / STAMP
        if not stamp.exists() or stamp.stat().st_mtime < newest:
            logger.info("building %s from the project environment", folder)
            _install(folder, distributions())
        return folder


def is_powertools_layer(arn: str) -> bool:
    return any(marker in arn for marker in POWERTOOLS_LAYER_MARKERS)


def layer_paths(layer_dir: Path) -> list[Path]:
    """The folders of one unpacked layer that Lambda's Python runtime puts on `sys.path`."""
    python = layer_dir / "python"
    found = sorted(python.glob("lib/python3*/site-packages")) if python.is_dir() else []
    return [*found, python] if python.is_dir() else found


def _pinned(requirements: Path) -> list[tuple[str, str]]:
    """The `name==version` pins of the dependency layer's requirements, for this platform.

    A pin with an environment marker that this venv did not install (uv sync evaluated the same marker from
    the same lock, e.g. `sys_platform == 'emscripten'`) is left out; every other pin must be installed."""
    if not requirements.exists():
        raise ArtifactError(f"{requirements} is missing: run `make layers` first")
    pins = []
    for line in requirements.read_text().splitlines():
        match = _REQUIREMENT.match(line.strip())
        if not match:
            continue
        if ";" in line and not _installed(match.group(1)):
            continue
        pins.append((match.group(1), match.group(2)))
    if not pins:
        raise ArtifactError(f"{requirements} pins no package")
    return pins


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _install(target: Path, distributions: Iterable[str | tuple[str, str]]) -> None:
    """Copy each distribution's files (its RECORD) from this interpreter's environment into `target`."""
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for entry in distributions:
        name, pinned = (entry, None) if isinstance(entry, str) else entry
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise ArtifactError(
                f"{name} is not installed in {sys.prefix}: run `make dev` (uv sync from uv.lock)"
            ) from None
        if pinned is not None and distribution.version != pinned:
            raise ArtifactError(
                f"{name} is {distribution.version} in the venv but the lock pins {pinned}: run `make dev`"
            )
        _copy_distribution(distribution, staging)
    (staging / STAMP).write_text("")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _copy_distribution(distribution: importlib.metadata.Distribution, target: Path) -> None:
    files = distribution.files or []
    if not files:
        raise ArtifactError(f"{distribution.metadata['Name']} lists no files (no RECORD)")
    for file in files:
        parts = Path(str(file)).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or Path(str(file)).is_absolute():
            continue  # console scripts, bytecode caches
        source = Path(str(distribution.locate_file(file)))
        if not source.is_file():
            continue
        destination = target.joinpath(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def _same_tree(left: Path, right: Path) -> bool:
    """The same relative file names and sizes (cheap; the assets are staged copies)."""

    def listing(folder: Path) -> set[tuple[str, int]]:
        return {
            (str(path.relative_to(folder)), path.stat().st_size)
            for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    return left.is_dir() and right.is_dir() and listing(left) == listing(right)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="the project root")
    args = parser.parse_args(argv)
    layers = LocalLayers(args.root.resolve())
    try:
        layers.build()
    except ArtifactError as exc:
        parser.exit(1, f"error: {exc}\n")
    for folder in (layers.runtime_site, layers.powertools_site, layers.deps_local_site):
        print(f"built {folder.relative_to(layers.root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
