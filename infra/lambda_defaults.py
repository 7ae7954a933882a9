"""The one place where Switchboard's Lambda defaults live, and the one helper that builds every function.

Python 3.13 on ARM64, JSON logs into a log group per function (one month retention), X-Ray tracing, 256 MB.
Each function gets its own role with no managed policy: it may write only its own log group, and every other
permission is added by a ``grant_*`` call in ``infra/functions.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from switchboard import catalog

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
SHARED_LAYER_DIR: Final = REPO_ROOT / "layers" / "shared"
DEPS_LAYER_DIR: Final = REPO_ROOT / "build" / "layers" / "deps"
SDK_LAYER_DIR: Final = REPO_ROOT / "build" / "layers" / "sdk"

RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
MEMORY_MB: Final = 256
LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH
HANDLER: Final = "handler.handler"
METRICS_NAMESPACE: Final = catalog.METRICS_NAMESPACE
LOG_LEVEL: Final = "INFO"

# The public Powertools layer, pinned to the Powertools release that uv.lock locks (tests/infra checks that
# the two agree). Its layer version is a sequence number that Powertools publishes per release, region and
# runtime; the documented way to pin a release rather than a number is the public SSM parameter
# /aws/service/powertools/python/{arch}/{python_version}/{semantic version}, whose value is that release's
# layer ARN in the deploying region (CloudFormation resolves it at deploy time):
# - Powertools for AWS Lambda (Python), "Installation" > "Lambda Layer" > "Using SSM Parameter Store"
#   (docs/getting-started/install.md at commit 05d7b18 of aws-powertools/powertools-lambda-python, undated);
# - the layer pipeline's SSM workflow: "package_version: semantic version number of the released layer
#   (3.x.y)", "/aws/service/powertools/python/arm64/python3.8/3.1.0" → "...-python38-arm64:4"
#   (aws-powertools/powertools-lambda-python PR #5754, .github/workflows/update_ssm.yml, 2024-12);
# - aws-powertools/powertools-lambda-python issue #7689 (2025-11): "{version} is the semantic version number
#   (e.g. 3.1.0) for a release or latest"; release 3.23.0 is layer version 27, the number pinned here before.
# The stored docs name no layer number for 3.37.0 (the install page shows 37 and 38 on one page, undated), so
# the number is not written here: POWERTOOLS_LAYER_VERSIONS keeps only the releases whose number is cited.
POWERTOOLS_VERSION: Final = "3.37.0"
POWERTOOLS_LAYER_VERSIONS: Final[Mapping[str, tuple[int, str]]] = {
    # release → (layer version of AWSLambdaPowertoolsPythonV3-python313-arm64, source and date)
    "3.23.0": (27, "powertools-lambda-python issue #7689, 2025-11-13"),
}
POWERTOOLS_SSM_PARAMETER: Final = f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}"
POWERTOOLS_LAYER_ARN: Final = f"{{{{resolve:ssm:{POWERTOOLS_SSM_PARAMETER}}}}}"

# Timeout of each function, by its logical role (the SWITCHBOARD_FUNCTION value). Queue visibility timeouts
# are derived from these, so they must be read from here and never repeated.
TIMEOUT_SECONDS: Final[Mapping[str, int]] = {
    "ingest": 10,
    "health": 5,
    "classify": 30,
    "decide": 60,
    "act": 30,
    "poll": 60,
    "triage": 300,
    "batch": 120,
    "plan": 120,  # one invocation; the durable execution itself may last days (DurableConfig)
}

# Pydantic looks for plugins (the `pydantic` entry-point group of every distribution on the path) when it
# builds its first model; the functions use none, and the scan of every dist-info folder in the layers cost
# ~11 ms of CPU per cold start here (tools/bench/coldstart.py). `PYDANTIC_DISABLE_PLUGINS=__all__` skips it:
# pydantic/plugin/_loader.py (`get_plugins`, pydantic 2.14.3, the locked release) and the change that added
# it, "Environment variable to disable plugins" (pydantic/pydantic PR #8767, commit b145516).
PYDANTIC_ENVIRONMENT: Final[Mapping[str, str]] = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

# Never ship bytecode caches or editable-install metadata in a code asset.
ASSET_EXCLUDE: Final = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.DS_Store"]
# The Makefile's bookkeeping next to python/ in the dependency layer dir is not part of the layer.
DEPS_LAYER_EXCLUDE: Final = [*ASSET_EXCLUDE, "requirements.txt", ".built"]


def pascal(name: str) -> str:
    """A construct id from a Switchboard name: ``act-github`` -> ``ActGithub``, ``llm:x`` -> ``LlmX``."""
    return "".join(part.capitalize() for part in name.replace(":", "-").split("-"))


def timeout_of(role: str) -> Duration:
    """The timeout of the functions with this logical role."""
    return Duration.seconds(TIMEOUT_SECONDS[role])


#: Import names that the dependency layer must hold: the top-level packages of the lock's non-dev
#: dependencies that the functions import (Powertools and boto3 come from their own layer and the runtime).
DEPS_LAYER_PACKAGES: Final = (
    "anthropic",
    "pydantic",
    "pydantic_core",
    "aws_durable_execution_sdk_python",
)
#: The CDK context key that points synth at another dependency layer folder (tests use an empty one).
DEPS_LAYER_CONTEXT: Final = "depsLayerDir"


class DepsLayerMissingError(RuntimeError):
    """The dependency layer folder is missing or incomplete: a deploy would ship functions that cannot call
    the model (``No module named 'anthropic'``)."""


def check_deps_layer_dir(path: Path = DEPS_LAYER_DIR) -> Path:
    """The dependency layer folder, if its ``python/`` holds every package of ``DEPS_LAYER_PACKAGES``.

    The Makefile builds it (``make layers``: the lock's wheels for arm64/3.13) before synth; a bare
    ``npx cdk synth``/``deploy`` on a fresh clone has no such folder and fails here instead of deploying an
    empty layer.
    """
    return _complete_layer_dir(path, DEPS_LAYER_PACKAGES, "dependency layer")


#: Import names that the AWS SDK layer must hold (``make layers`` builds it from the lock's boto3 and what it
#: needs). Only functions whose ``FunctionSpec.aws_sdk`` is set get it: the plan function, whose durable
#: execution SDK requires a boto3 (``Requires-Dist: boto3>=…``, tests/infra pins it against the layer)
#: newer than the runtime's may be. "The version of the AWS SDK included in the Python runtime depends on
#: the runtime version and your AWS Region" ("Building Lambda functions with Python",
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), and the durable functions guide
#: recommends "including the SDK in your deployment package for production" ("Supported runtimes for
#: durable functions", https://docs.aws.amazon.com/lambda/latest/dg/durable-supported-runtimes.html); both
#: read 2026-12-02.
SDK_LAYER_PACKAGES: Final = ("boto3", "botocore", "s3transfer")


def check_sdk_layer_dir(path: Path = SDK_LAYER_DIR) -> Path:
    """The AWS SDK layer folder, if its ``python/`` holds every package of ``SDK_LAYER_PACKAGES``."""
    return _complete_layer_dir(path, SDK_LAYER_PACKAGES, "AWS SDK layer")


def _complete_layer_dir(path: Path, packages: tuple[str, ...], what: str) -> Path:
    site = path / "python"
    missing = [name for name in packages if not (site / name).is_dir()]
    if missing:
        raise DepsLayerMissingError(
            f"the Lambda {what} {site} is missing {', '.join(missing)}: run `make layers` "
            "(or `make synth`/`make deploy`, which build it) before `cdk synth` or `cdk deploy`"
        )
    return path


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between two Switchboard functions; everything else is a default from this module."""

    construct_id: str
    code: str
    role: str
    description: str
    environment: Mapping[str, str] = field(default_factory=dict)
    durable: lambda_.DurableConfig | None = None  # a durable function (Lambda durable execution)
    aws_sdk: bool = False  # ships boto3 in a layer (``SDK_LAYER_PACKAGES``) instead of the runtime's


class LambdaFactory(Construct):
    """Owns the shared layers and builds every function with the same defaults."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.powertools_layer = self._build_powertools_layer()
        self.shared_layer = self._build_shared_layer()
        deps_dir = self.node.try_get_context(DEPS_LAYER_CONTEXT)
        self.deps_layer = self._build_deps_layer(Path(deps_dir) if deps_dir else DEPS_LAYER_DIR)
        # Lambda unpacks layers in order, later ones overwriting earlier ones. With the recognizeLayerVersion
        # feature flag CDK sorts a function's layers by construct path, so the construct ids are chosen to
        # sort in the order that matters: Powertools, then our pinned dependencies (they win where both ship
        # a package), then the shared library. tests/infra pins this order.
        self.layers: list[lambda_.ILayerVersion] = [self.powertools_layer, self.deps_layer, self.shared_layer]
        self._code: dict[str, lambda_.Code] = {}
        self._sdk_layer: lambda_.LayerVersion | None = None

    @property
    def sdk_layer(self) -> lambda_.LayerVersion:
        """The AWS SDK layer, built when the first function that needs it is (its construct id sorts between
        the dependency layer and the shared library; no file is in two of them)."""
        if self._sdk_layer is None:
            self._sdk_layer = self._build_asset_layer(
                "PythonSdkLayer",
                check_sdk_layer_dir(),
                "AWS SDK for Python (boto3) at the lock's version, for the durable execution SDK",
                DEPS_LAYER_EXCLUDE,
            )
        return self._sdk_layer

    def _build_powertools_layer(self) -> lambda_.ILayerVersion:
        return lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", POWERTOOLS_LAYER_ARN)

    def _build_shared_layer(self) -> lambda_.LayerVersion:
        return self._build_asset_layer(
            "SharedLayer",
            SHARED_LAYER_DIR,
            "Switchboard shared library (models, adapters, rules, state)",
            ASSET_EXCLUDE,
        )

    def _build_deps_layer(self, path: Path) -> lambda_.LayerVersion:
        return self._build_asset_layer(
            "PythonDepsLayer",
            check_deps_layer_dir(path),
            "Switchboard third-party dependencies (arm64, Python 3.13)",
            DEPS_LAYER_EXCLUDE,
        )

    def _build_asset_layer(
        self, construct_id: str, path: Path, description: str, exclude: list[str]
    ) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(path), exclude=exclude),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )

    def _code_asset(self, name: str) -> lambda_.Code:
        """One code asset per folder under functions/, shared by every function built from it."""
        if name not in self._code:
            self._code[name] = lambda_.Code.from_asset(str(FUNCTIONS_DIR / name), exclude=ASSET_EXCLUDE)
        return self._code[name]

    def build(self, scope: Construct, spec: FunctionSpec) -> lambda_.Function:
        """Build one function, its log group and its role, with the Switchboard defaults."""
        log_group = self._build_log_group(scope, spec)
        role = self._build_role(scope, spec, log_group)
        return lambda_.Function(
            scope,
            spec.construct_id,
            description=spec.description,
            code=self._code_asset(spec.code),
            handler=HANDLER,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=MEMORY_MB,
            timeout=timeout_of(spec.role),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=log_group,
            role=role,
            layers=[*self.layers, self.sdk_layer] if spec.aws_sdk else self.layers,
            environment={**self._common_environment(spec.role), **spec.environment},
            durable_config=spec.durable,
        )

    @staticmethod
    def _build_log_group(scope: Construct, spec: FunctionSpec) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            f"{spec.construct_id}Logs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

    @staticmethod
    def _build_role(scope: Construct, spec: FunctionSpec, log_group: logs.LogGroup) -> iam.Role:
        role = iam.Role(
            scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Switchboard {spec.construct_id}: its own log group plus explicit grants",
        )
        log_group.grant_write(role)
        return role

    @staticmethod
    def _common_environment(role: str) -> dict[str, str]:
        return {
            "POWERTOOLS_SERVICE_NAME": f"switchboard-{role}",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
            catalog.Env.SWITCHBOARD_FUNCTION: role,
            **PYDANTIC_ENVIRONMENT,
        }
