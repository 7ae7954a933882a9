"""moto's IAM enforcement, switched on for the local runtime's moto server, and what it is taught to check.

moto documents "IAM-like Access Control" (https://docs.getmoto.org/en/latest/docs/iam.html, moto 5.2.5): once
`INITIAL_NO_AUTH_ACTION_COUNT` requests have been served (default: infinity, never), every request must be
signed with an access key that moto knows (an IAM user's key, or an assumed role's temporary credentials) and
the caller's identity policies must allow the action. `/moto-api/reset-auth` sets that count on a running
server; `enforce()` sets it to 0 once the runtime has provisioned everything.

What moto 5.2.5 evaluates, read in `moto/core/responses.py` (`call_action`) and `moto/iam/access_control.py`:
- every service that dispatches through `BaseResponse.call_action` (SQS, DynamoDB, Secrets Manager, SSM, SNS,
  STS, IAM, EventBridge, CloudWatch, Logs, KMS, ...) checks the signature and the ACTION; S3 has its own path;
- the RESOURCE is known only for SQS (the queue of `QueueUrl`), IAM roles and `sts:AssumeRole`; every other
  action is checked against `*`, which a statement scoped to an ARN never matches, so moto would refuse
  every correctly scoped grant;
- identity policies only: no resource policies (queue, topic, key policies), no permission boundaries, no
  SCPs; a statement's `Condition` is evaluated against an empty request context.

`apply()` patches the check (for the pinned moto only, like `tools.local.moto_fixes`) so that the resource is
the one AWS authorizes:
- DynamoDB: the table (`TableName`, or the index for a `Query`/`Scan` with `IndexName`); `BatchGetItem` and
  `BatchWriteItem` are checked on each table they name; `TransactWriteItems`/`TransactGetItems`, which are no
  IAM actions, are checked as their items' `PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem` and
  `GetItem` on each item's table ("Using IAM with DynamoDB transactions", Amazon DynamoDB Developer Guide,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html, read 2025);
- Secrets Manager: the secret's full ARN (`SecretId` may be a name or an ARN);
- SSM: the parameter's ARN (`Name`, each of `Names`, or the `Path` of `GetParametersByPath`);
- SNS `Publish`: the topic (`TopicArn`); SQS `GetQueueUrl`: the queue of `QueueName`; SQS's batch actions,
  which are no IAM actions either, as `SendMessage`, `DeleteMessage` and `ChangeMessageVisibility`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, Final

from tools.local.template import PARTITION

VERIFIED_MOTO: Final = "5.2.5"

#: Per-item operation of a DynamoDB transaction → the IAM action AWS authorizes it as.
_TRANSACT_ACTIONS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}

#: SQS batch actions are no IAM actions: each is authorized as its single-message action ("Amazon SQS API
#: permissions: Actions and resource reference", Amazon SQS Developer Guide,
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html).
_SQS_BATCH_ACTIONS: Final = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}

Check = tuple[str | None, str]  # (IAM action name without its service prefix, or None for the request's; ARN)


def enforce(endpoint_url: str, *, after: float = 0) -> None:
    """Make the moto server at ``endpoint_url`` authenticate and authorize every request from now on
    (``after``: the number of requests it still serves unchecked; ``float("inf")`` switches it off)."""
    request = urllib.request.Request(  # noqa: S310 (a loopback http URL the runtime built)
        f"{endpoint_url}/moto-api/reset-auth",
        data=str(after).encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form content type would leave moto an empty body
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        json.loads(response.read())


def relax(endpoint_url: str) -> None:
    """Switch enforcement off again (moto's settings are per process: an in-process server shares them)."""
    enforce(endpoint_url, after=float("inf"))


def apply() -> None:
    """Teach moto's authorization the resources above (process-wide, idempotent)."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import _RESTError as RESTError  # the base of its IAM errors
    from moto.iam.access_control import IAMRequest

    if getattr(ActionAuthenticatorMixin, "_switchboard_resources", False):
        return
    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def authorize(self: Any, resource: str = "*") -> None:
        try:
            checks = list(_checks(self))
            if not checks:
                original(self, resource)
                return
            for action, arn in checks:
                factory = IAMRequest if action is None else _request_as(IAMRequest, action)
                self._authenticate_and_authorize_action(factory, arn)
        except RESTError as error:
            raise _in_the_services_protocol(self, error) from None

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize  # type: ignore[method-assign]
    ActionAuthenticatorMixin._switchboard_resources = True  # type: ignore[attr-defined]


def load_aws_managed_policy(arn: str, account_id: str) -> bool:
    """Make the AWS managed policy `arn` attachable in moto's IAM (True if it is one moto knows).

    moto ships AWS's managed policies (`moto/iam/aws_managed_policies.py`, copied from AWS) but loads them
    only with `MOTO_IAM_LOAD_MANAGED_POLICIES`, all of them, for every account backend. A role that names one
    (CDK's `DurableConfig` attaches `service-role/AWSLambdaBasicDurableExecutionRolePolicy`) gets exactly
    that one, with AWS's document, so moto evaluates the grant as AWS would."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    prefix = f"arn:{PARTITION}:iam::aws:policy/"
    if not arn.startswith(prefix):
        return False
    name = arn.rsplit("/", 1)[1]
    data = json.loads(aws_managed_policies_data).get(name)
    if data is None or prefix + str(data.get("Path", "/")).lstrip("/") + name != arn:
        return False
    backend = iam_backends[account_id][PARTITION]
    if arn not in backend.managed_policies:
        backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, account_id, "us-east-1", data)
    return True


def _in_the_services_protocol(response: Any, error: Any) -> Any:
    """moto renders its IAM errors as XML for every service; a JSON-protocol service (DynamoDB, SQS, Secrets
    Manager, SSM, ...) answers with a JSON error, and a refusal is `AccessDeniedException`, HTTP 400 ("Common
    Errors", AWS API references, e.g. https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html).
    Without this, botocore sees the error code "403" and the SDK's typed exceptions never match."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.core.utils import get_service_model

    if get_service_model(response.boto3_service_name).protocol != "json":
        return error
    denied = isinstance(error, AccessDeniedError)
    rendered = JsonRESTError("AccessDeniedException" if denied else error.error_type, error.message)
    rendered.code = 400 if denied else error.code
    return rendered


def _request_as(request_class: type, action: str) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        return request_class(**{**kwargs, "action": action})

    return build


def _checks(response: Any) -> Iterator[Check]:
    service = getattr(response, "service_name", None)
    action = response._get_action()
    account, region = response.current_account, response.region
    if service == "dynamodb":
        yield from _dynamodb(response, action, account, region)
    elif service == "secretsmanager":
        secret_id = response._get_param("SecretId")
        if secret_id:
            yield None, _secret_arn(secret_id, account, region)
    elif service == "ssm":
        yield from _ssm(response, account, region)
    elif service == "sns" and action == "Publish" and response._get_param("TopicArn"):
        yield None, response._get_param("TopicArn")
    elif service == "sqs" and action in _SQS_BATCH_ACTIONS:
        yield _SQS_BATCH_ACTIONS[action], response._determine_resource()
    elif service == "sqs" and action == "GetQueueUrl" and response._get_param("QueueName"):
        owner = response._get_param("QueueOwnerAWSAccountId") or account
        yield None, f"arn:{PARTITION}:sqs:{region}:{owner}:{response._get_param('QueueName')}"


def _dynamodb(response: Any, action: str, account: str, region: str) -> Iterator[Check]:
    def table(name: str) -> str:
        return (
            name if name.startswith("arn:") else f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{name}"
        )

    if action in ("TransactWriteItems", "TransactGetItems"):
        for item in response._get_param("TransactItems") or []:
            for operation, request in item.items():
                yield _TRANSACT_ACTIONS[operation], table(request["TableName"])
    elif action in ("BatchGetItem", "BatchWriteItem"):
        for name in response._get_param("RequestItems") or {}:
            yield None, table(name)
    elif response._get_param("TableName"):
        arn = table(response._get_param("TableName"))
        index = response._get_param("IndexName")
        yield None, f"{arn}/index/{index}" if index and action in ("Query", "Scan") else arn


def _secret_arn(secret_id: str, account: str, region: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    return secret.arn if secret is not None else secret_id


def _ssm(response: Any, account: str, region: str) -> Iterator[Check]:
    names = response._get_param("Names") or []
    for name in [response._get_param("Name"), response._get_param("Path"), *names]:
        if name and name.startswith("arn:"):
            yield None, name
        elif name:
            path = name.split(":")[0]  # `name:version` and `name:label` select a version of `name`
            path = path if path.startswith("/") else "/" + path
            yield (
                None,
                f"arn:{PARTITION}:ssm:{region}:{account}:parameter{path}",
            )
