"""``switchboard``: the command line for developers and for the person on call.

Every command talks to the local runtime by default (it reads ``.switchboard/local.json``); ``--stack NAME``
reads a deployed stack's outputs instead, with the AWS credentials of the environment.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.local.moto_credentials import Credentials

STATE_FILE = Path(os.environ.get("SWITCHBOARD_STATE_DIR", ".switchboard")) / "local.json"


class CliError(Exception):
    pass


# ---------------------------------------------------------------- where the stack is


class Target:
    """The endpoints and names of one running stack: the local runtime, or a deployed stack."""

    def __init__(
        self,
        outputs: dict[str, str],
        aws_endpoint_url: str | None,
        sink_url: str | None,
        local_credentials: Credentials | None = None,
    ) -> None:
        self.outputs = outputs
        self.aws_endpoint_url = aws_endpoint_url
        self.sink_url = sink_url
        self.local_credentials = local_credentials  # the local runtime's admin key (local.json)

    @classmethod
    def resolve(cls, stack: str | None) -> Target:
        if stack:
            return cls(_stack_outputs(stack), None, None)
        if not STATE_FILE.exists():
            raise CliError(
                f"no local runtime: {STATE_FILE} is missing. Start one with `make local`, or pass --stack."
            )
        return cls.from_state(json.loads(STATE_FILE.read_text()))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Target:
        """The local runtime described by its ``local.json`` (its moto enforces IAM: the CLI signs as the
        runtime's admin user)."""
        from tools.local import moto_credentials

        return cls(
            state.get("outputs", {}),
            state["aws_endpoint_url"],
            state.get("sink_url"),
            local_credentials=moto_credentials.from_state(state)
            if moto_credentials.STATE_KEY in state
            else None,
        )

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise CliError(f"the stack has no output {key!r}") from None

    def client(self, service: str) -> Any:
        import boto3

        if self.aws_endpoint_url:
            from tools.local import moto_credentials

            if self.local_credentials is None:
                raise CliError(f"{STATE_FILE} holds no admin credentials: restart the local runtime")
            return moto_credentials.client(service, self.aws_endpoint_url, self.local_credentials)
        return boto3.client(service)  # type: ignore[call-overload]


def _stack_outputs(stack: str) -> dict[str, str]:
    import boto3

    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


# ---------------------------------------------------------------- send


def webhook_secret(platform: str, target: Target | None = None) -> str:
    """The platform's signing secret: ``SWITCHBOARD_<PLATFORM>_SECRET`` when it is set, else the value the
    stack holds in Secrets Manager (the local runtime's moto server, or a deployed stack with ``--stack``):
    the secret tagged ``switchboard:secret=webhook:<platform>``. Several secrets (a rotation: a JSON list)
    come back as the stored value; ``signed_headers`` signs with the first (``split_secrets``)."""
    from tools.local.provision import SECRET_TAG, webhook_secret_env

    explicit = os.environ.get(webhook_secret_env(platform))
    if explicit:
        return explicit
    secrets = (target or Target.resolve(None)).client("secretsmanager")
    wanted = f"webhook:{platform}"
    pages = secrets.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [SECRET_TAG]}, {"Key": "tag-value", "Values": [wanted]}]
    )
    for page in pages:
        for entry in page.get("SecretList", []):
            tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags", [])}
            if tags.get(SECRET_TAG) == wanted:
                return str(secrets.get_secret_value(SecretId=entry["ARN"])["SecretString"])
    raise CliError(f"the stack holds no secret tagged {SECRET_TAG}={wanted}")


def signed_headers(
    platform: str, body: bytes, event_type: str, delivery_id: str, secret: str
) -> dict[str, str]:
    """Sign the way the platform signs: each adapter knows its own scheme. ``secret`` is the stored value,
    read as the ingest function reads it (``split_secrets``: verbatim, or a JSON list); the first signs."""
    from switchboard.adapters import adapter_for
    from switchboard.errors import UnknownPlatform
    from switchboard.ingest import split_secrets

    try:
        adapter = adapter_for(platform)
    except UnknownPlatform:
        raise CliError(f"switchboard send does not know the platform {platform!r}") from None
    try:
        first = split_secrets(secret, platform)[0]
    except RuntimeError as exc:
        raise CliError(f"the {platform} webhook secret cannot be used: {exc}") from None
    return adapter.signed_headers(body, first, delivery_id, event_type)


def cmd_send(args: argparse.Namespace) -> int:
    path = Path(args.file)
    body = path.read_bytes()
    event_type = args.event or path.name.split(".")[0]
    delivery_id = args.delivery_id or str(uuid.uuid4())
    url = args.url or _api_url(args.stack) + f"/webhooks/{args.platform}"
    secret = webhook_secret(args.platform, Target.resolve(args.stack) if args.stack else None)
    headers = signed_headers(args.platform, body, event_type, delivery_id, secret)
    status, answer = post(url, body, headers)
    print(json.dumps({"status": status, "delivery_id": delivery_id, "response": answer}, indent=2))
    return 0 if 200 <= status < 300 else 1


def _api_url(stack: str | None) -> str:
    if stack:
        return Target.resolve(stack).output("ApiUrl").rstrip("/")
    if not STATE_FILE.exists():
        raise CliError("no local runtime: start one with `make local`, or pass --url or --stack.")
    return str(json.loads(STATE_FILE.read_text())["api_url"]).rstrip("/")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    if not url.startswith(("http://", "https://")):
        raise CliError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, _json_or_text(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json_or_text(exc.read())


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


# ---------------------------------------------------------------- trace


def cmd_trace(args: argparse.Namespace) -> int:
    from switchboard.errors import TaskNotFound
    from switchboard.state import TaskStore

    target = Target.resolve(args.stack)
    store = TaskStore(
        target.output("TasksTableName"), target.output("MemoryTableName"), dynamodb=target.client("dynamodb")
    )
    tasks = store.find_by_event(args.id)
    if not tasks:
        try:
            tasks = [store.get(args.id)]
        except TaskNotFound:
            raise CliError(f"no task for {args.id!r} (tried it as an event id and as a task id)") from None
    for task in tasks:
        data = task.to_json()
        from tools.cli.plans import plan_view  # a planned task: its plans as they ran

        if (plans := plan_view(data)) is not None:
            data["plan"] = plans
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            print(render_timeline(data))
    return 0


def render_timeline(task: dict[str, Any]) -> str:
    lines = [
        f"task {task['task_id']}  event {task['event_id']}  ({task['platform']}, {task['conversation']})",
        f"status {task['status']}" + (f"  reason: {task['reason']}" if task.get("reason") else ""),
    ]
    for entry in task["history"]:
        move = entry.get("status", "·")
        if "from" in entry:
            move = f"{entry['from']} → {move}"
        detail = json.dumps(entry.get("detail", {}), sort_keys=True)
        lines.append(f"  {entry['at']}  {entry['actor']:<9} {move:<26} {detail}")
    from tools.cli.plans import render_plans

    return "\n".join(lines + render_plans(task))


# ---------------------------------------------------------------- tasks


def _store(target: Target) -> Any:
    from switchboard.state import TaskStore

    return TaskStore(
        target.output("TasksTableName"), target.output("MemoryTableName"), dynamodb=target.client("dynamodb")
    )


def cmd_tasks(args: argparse.Namespace) -> int:
    from switchboard.models import TaskStatus

    target = Target.resolve(args.stack)
    tasks = _store(target).needing_attention(TaskStatus(args.status), limit=args.limit)
    if args.json:
        print(json.dumps([task.to_json() for task in tasks], indent=2))
        return 0
    if not tasks:
        print(f"no task is {args.status}")
    for task in tasks:
        where = f"{task.platform:<8} {task.conversation:<36}"
        print(f"{task.task_id}  {task.status.value:<11} {where} {task.reason or ''}")
    return 0


def deployed_gate(target: Target) -> Any:
    """The policy gate with the deployed functions' settings: their ``LABEL_POLICY`` (the stack's
    ``LabelPolicy`` output holds the same value) read through their settings model. A person on call needs
    no trust lookup: the gate gives them authority, and their actions count against no rate."""
    from switchboard.policy import PolicyGate
    from switchboard.settings import PolicyMixin

    return PolicyGate(PolicyMixin(label_policy=target.output("LabelPolicy")).policy_config())


def cmd_resolve(args: argparse.Namespace) -> int:
    from switchboard.models import Service
    from switchboard.operations import resolve_closed, resolve_with_action
    from switchboard.sqs import SqsQueueSender

    target = Target.resolve(args.stack)
    store = _store(target)
    if args.approve or args.reject:  # a plan's review: the durable execution's callback
        from tools.cli import plans

        review = plans.pending_review(store.get(args.task_id).to_json())
        if review is None:
            raise CliError(f"task {args.task_id} has no plan review waiting")
        client = plans.lambda_client(target, STATE_FILE)
        answered = plans.answer_review(client, review, approve=args.approve, by=args.by, note=args.note or "")
        print(json.dumps(answered, indent=2) if args.json else f"review {answered['step']}: sent")
        return 0
    if args.close:
        task = resolve_closed(store, args.task_id, by=args.by, note=args.note or "")
    else:
        queue_urls = json.loads(target.output("QueueUrls"))
        task = resolve_with_action(
            store,
            SqsQueueSender(target.client("sqs")),
            lambda service: queue_urls[f"act-{Service(service).value}"],
            args.task_id,
            by=args.by,
            ability_name=args.ability,
            params=json.loads(args.params or "{}"),
            note=args.note or "",
            gate=deployed_gate(target),
        )
    print(json.dumps(task.to_json(), indent=2) if args.json else render_timeline(task.to_json()))
    return 0


# ---------------------------------------------------------------- dlq


def _dead_letters(target: Target) -> Any:
    from switchboard.dlq import DeadLetterQueues

    return DeadLetterQueues(
        json.loads(target.output("DlqUrls")),
        json.loads(target.output("QueueUrls")),
        move_tasks=target.aws_endpoint_url is None,  # AWS offers StartMessageMoveTask; moto does not
        sqs=target.client("sqs"),
    )


def _lookups(target: Target) -> tuple[Any, Any]:
    from switchboard.breaker import breaker_is_open
    from switchboard.dynamo import DynamoBreakerStore
    from switchboard.errors import TaskNotFound

    store = _store(target)
    breakers = DynamoBreakerStore(target.output("MemoryTableName"), target.client("dynamodb"))

    def history_of(task_id: str) -> list[dict[str, Any]] | None:
        try:
            return list(store.get(task_id).history)
        except TaskNotFound:
            return None

    def breaker_open(service: str | None) -> bool:
        return breaker_is_open(breakers, service)

    return history_of, breaker_open


def cmd_dlq(args: argparse.Namespace) -> int:
    from switchboard.dlq import summarize

    target = Target.resolve(args.stack)
    dead = _dead_letters(target)
    if args.dlq_command == "list":
        depths = dead.depths()
        if args.json:
            print(json.dumps(depths, indent=2))
        else:
            for name, depth in depths.items():
                print(f"{name:<14} {depth:>6} {'← needs a look' if depth else ''}")
        return 0
    history_of, breaker_open = _lookups(target)
    if args.dlq_command == "triage":
        letters = dead.read(history_of, breaker_open)
        report = summarize(letters) | {"messages": [letter.to_json() for letter in letters]}
        if args.json:
            print(json.dumps(report, indent=2))
            return 0
        print(f"{report['total']} message(s) in dead-letter queues")
        for row in report["categories"]:
            print(f"  {row['count']:>4}  {row['category']:<48} e.g. {', '.join(row['example_tasks']) or '-'}")
        return 0

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\r  {done}/{total}", end="", file=sys.stderr, flush=True)

    from switchboard.operations import redrive

    result = redrive(
        dead,
        _store(target),
        args.queue,
        by=args.by,
        category=args.category,
        dry_run=args.dry_run,
        history_of=history_of,
        breaker_open=breaker_open,
        progress=progress,
    )
    if not args.json:
        print(file=sys.stderr)
    summary = {
        "queue": result.queue,
        "moved": result.moved,
        "kept": result.kept,
        "dry_run": result.dry_run,
        "method": result.method,
        "groups": result.groups,
    }
    print(json.dumps(summary, indent=2) if args.json else _redrive_line(summary))
    return 0


def _redrive_line(summary: dict[str, Any]) -> str:
    verb = "would move" if summary["dry_run"] else "moved"
    return (
        f"{summary['queue']}: {verb} {summary['moved']} message(s) back, kept {summary['kept']} in the DLQ "
        f"({summary['method']}, {len(summary['groups'])} group(s), order kept within each group)"
    )


# ---------------------------------------------------------------- outbox


def cmd_outbox(args: argparse.Namespace) -> int:
    target = Target.resolve(None)
    if not target.sink_url:
        raise CliError("the local runtime has no recording sink")
    with urllib.request.urlopen(target.sink_url + "/_outbox", timeout=10) as response:  # noqa: S310
        calls = json.loads(response.read())
    if args.json:
        print(json.dumps(calls, indent=2))
        return 0
    if not calls:
        print("outbox is empty: no external call was made")
    for call in calls:
        body = json.dumps(call.get("body"), sort_keys=True)
        line = f"{call['at']}  {call['service']:<9} {call['method']:<6} {call['path']}  → {call['status']}"
        print(f"{line}  {body}")
    return 0


# ---------------------------------------------------------------- list, replay, costs (the console's too)


@functools.cache
def _library_logger() -> None:
    """The library logs through Powertools child loggers; in Lambda the handler creates their parent."""
    from aws_lambda_powertools import Logger

    Logger()  # the same service name as the children (POWERTOOLS_SERVICE_NAME, or its default)


def door(target: Target) -> Any:
    """The one way an event enters the pipeline (``Enqueuer``), as the ingest function builds it."""
    from switchboard.dynamo import DynamoSeenLog

    _library_logger()
    from switchboard.ingest import Enqueuer
    from switchboard.sqs import SqsQueueSender

    seen = DynamoSeenLog(
        target.output("MemoryTableName"),
        SEEN_TTL_DAYS,
        dynamodb=target.client("dynamodb"),
        tasks_table=target.output("TasksTableName"),
    )
    return Enqueuer(SqsQueueSender(target.client("sqs")), target.output("IngestQueueUrl"), seen)


#: How long the door's seen marks of replayed deliveries last (the ingest function's default).
SEEN_TTL_DAYS = 7


def task_filter(args: argparse.Namespace) -> Any:
    from switchboard.operations import TaskFilter

    return TaskFilter(
        platform=args.platform or "",
        status=args.status or "",
        route=args.route or "",
        author=args.author or "",
        conversation=args.conversation or "",
        since=args.since or "",
        until=args.until or "",
    )


def cmd_list(args: argparse.Namespace) -> int:
    from switchboard.operations import list_tasks

    rows = list_tasks(_store(Target.resolve(args.stack)), task_filter(args), limit=args.limit)
    if args.json:
        print(json.dumps([row.to_json() for row in rows], indent=2))
        return 0
    for row in rows:
        text = row.text.replace("\n", " ")[:60]
        print(f"{row.at}  {row.task_id}  {row.status:<11} {row.route:<11} ${row.cost_usd:<9.6f} {text}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from switchboard.operations import replay, select_for_replay

    target = Target.resolve(args.stack)
    store = _store(target)
    task_ids = list(args.task or []) or select_for_replay(store, task_filter(args), limit=args.limit)
    if not task_ids:
        raise CliError("no past event matches: name --task IDs or widen the filters")
    outcomes = replay(store, door(target), task_ids, by=args.by, fresh=args.fresh, dry_run=args.dry_run)
    if args.json:
        print(json.dumps([outcome.to_json() for outcome in outcomes], indent=2))
        return 0
    for outcome in outcomes:
        verb = ("would replay" if outcome.dry_run else "replayed") if outcome.replayed else "skipped"
        print(f"{outcome.task_id}  {verb:<12} {outcome.delivery_id or '-':<48} {outcome.reason}")
    return 0


def daily_cap_usd(target: Target) -> float | None:
    """The LLM budget's daily cap: the local template's classify environment (a deployed stack's is not in
    its outputs: None, unless ``SWITCHBOARD_LLM_DAILY_USD_CAP`` says it)."""
    explicit = os.environ.get("SWITCHBOARD_LLM_DAILY_USD_CAP")
    if explicit:
        return float(explicit)
    template = Path("cdk.out/Switchboard.template.json")
    if target.aws_endpoint_url is None or not template.exists():
        return None
    for resource in json.loads(template.read_text()).get("Resources", {}).values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if isinstance(variables.get("LLM_DAILY_USD_CAP"), str):
            return float(variables["LLM_DAILY_USD_CAP"])
    return None


def cmd_costs(args: argparse.Namespace) -> int:
    from switchboard.dynamo import DynamoBudgetLedger
    from switchboard.operations import costs

    target = Target.resolve(args.stack)
    ledger = DynamoBudgetLedger(target.output("MemoryTableName"), target.client("dynamodb"))
    report = costs(_store(target), ledger, daily_cap_usd(target))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for day in report["days"]:
        tiers = ", ".join(f"{tier} ${usd:.4f}" for tier, usd in sorted(day["tiers"].items()))
        print(f"{day['day']}  ${day['usd']:.4f} of ${day['cap_usd'] or '?'}  ({tiers})")
    print(f"{report['settled_without_model']} of {report['tasks']} task(s) settled without a model")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from tools.console.server import serve

    target = Target.resolve(args.stack)
    name = f"stack {args.stack}" if args.stack else "local runtime"
    return serve(target, port=args.port, operator=args.by, local=args.stack is None, name=name)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    from switchboard.operations import ROUTES

    parser.add_argument("--platform")
    parser.add_argument("--status", help="e.g. DONE, DROPPED, FAILED")
    parser.add_argument("--route", choices=ROUTES)
    parser.add_argument("--author")
    parser.add_argument("--conversation", help="a part of the conversation (issue, thread)")
    parser.add_argument("--since", help="ISO time (UTC), e.g. 2026-12-01T10:00")
    parser.add_argument("--until", help="ISO time (UTC)")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stack")


# ---------------------------------------------------------------- local


def cmd_local(args: argparse.Namespace, rest: list[str]) -> int:
    from tools.local.runtime import main as run_local

    return run_local(rest)


def build_parser() -> argparse.ArgumentParser:
    from switchboard import catalog

    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("local", help="run the whole stack on this machine (see `switchboard local --help`)")

    send = commands.add_parser("send", help="sign a payload the way the platform does and post it")
    send.add_argument(
        "platform", help=f"a platform with an adapter: {', '.join(catalog.webhook_platforms())}"
    )
    send.add_argument("file", help="the JSON payload, e.g. events/github/issue_comment.label_bug.json")
    send.add_argument("--url", help="the webhook URL (default: the local runtime's)")
    send.add_argument("--delivery-id", help="the delivery id to send (default: a new UUID)")
    send.add_argument("--event", help="the event type (default: the file name up to its first dot)")
    send.add_argument("--stack", help="send to a deployed stack's API instead of the local runtime")
    send.set_defaults(func=cmd_send)

    trace = commands.add_parser("trace", help="print a task's timeline, by event id or task id")
    trace.add_argument("id")
    trace.add_argument("--json", action="store_true")
    trace.add_argument("--stack")
    trace.set_defaults(func=cmd_trace)

    outbox = commands.add_parser("outbox", help="list the external calls that reached the local sink")
    outbox.add_argument("--json", action="store_true")
    outbox.set_defaults(func=cmd_outbox)

    tasks = commands.add_parser("tasks", help="tasks that need a person (NEEDS_HUMAN or FAILED)")
    tasks.add_argument("--status", choices=["NEEDS_HUMAN", "FAILED"], default="NEEDS_HUMAN")
    tasks.add_argument("--limit", type=int, default=50)
    tasks.add_argument("--json", action="store_true")
    tasks.add_argument("--stack")
    tasks.set_defaults(func=cmd_tasks)
    task_commands = tasks.add_subparsers(dest="tasks_command")
    resolve = task_commands.add_parser(
        "resolve", help="resolve a task: with a chosen action, or closed with a note"
    )
    resolve.add_argument("task_id")
    resolve.add_argument("--by", required=True, help="who resolves it (recorded in the history)")
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--ability", help="the action to take, e.g. github.comment")
    how.add_argument("--close", action="store_true", help="close the task with --note, no action")
    how.add_argument("--approve", action="store_true", help="approve a plan's waiting review step")
    how.add_argument("--reject", action="store_true", help="decline a plan's waiting review (--note: why)")
    resolve.add_argument(
        "--params", help='the action\'s parameters as JSON, e.g. \'{"body": "Fixed in 1.2"}\''
    )
    resolve.add_argument("--note", help="why (required with --close)")
    resolve.add_argument("--json", action="store_true")
    resolve.add_argument("--stack")
    resolve.set_defaults(func=cmd_resolve)

    dlq = commands.add_parser("dlq", help="dead-letter queues: list, triage, redrive")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, text in (
        ("list", "depth of every DLQ"),
        ("triage", "categorize every DLQ message (none is removed)"),
    ):
        sub = dlq_commands.add_parser(name, help=text)
        sub.add_argument("--json", action="store_true")
        sub.add_argument("--stack")
        sub.set_defaults(func=cmd_dlq)
    redrive = dlq_commands.add_parser(
        "redrive", help="move a DLQ's messages back to their queue, in group order"
    )
    redrive.add_argument("queue", help=f"the queue name: {', '.join(q.name for q in catalog.queues())}")
    redrive.add_argument("--category", help="only this category (from `dlq triage`), or a prefix of it")
    redrive.add_argument("--dry-run", action="store_true")
    redrive.add_argument(
        "--by", default=getpass.getuser(), help="who redrives (noted in each task's history)"
    )
    redrive.add_argument("--json", action="store_true")
    redrive.add_argument("--stack")
    redrive.set_defaults(func=cmd_dlq)

    listing = commands.add_parser("list", help="the newest tasks, with filters (what the console lists)")
    _add_filters(listing)
    listing.set_defaults(func=cmd_list)

    replaying = commands.add_parser(
        "replay",
        help="re-inject past events as new deliveries (an event whose action ran: only with --fresh)",
    )
    replaying.add_argument("--task", action="append", help="a task id to replay (repeatable)")
    replaying.add_argument("--by", default=getpass.getuser(), help="who replays (recorded in the history)")
    replaying.add_argument("--dry-run", action="store_true", help="say what would be replayed; send nothing")
    replaying.add_argument("--fresh", action="store_true", help="replay even if the event's action ran")
    _add_filters(replaying)
    replaying.set_defaults(func=cmd_replay)

    spend = commands.add_parser("costs", help="model spend per day and tier against the daily budget")
    spend.add_argument("--json", action="store_true")
    spend.add_argument("--stack")
    spend.set_defaults(func=cmd_costs)

    console = commands.add_parser("console", help="serve the operator's console on 127.0.0.1")
    console.add_argument("--stack", help="a deployed stack (its outputs, with your AWS credentials)")
    console.add_argument("--port", type=int, default=3100, help="the loopback port (%(default)s)")
    console.add_argument("--by", default=getpass.getuser(), help="who you are, in the tasks' history")
    console.set_defaults(func=cmd_console)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["local"]:
        return cmd_local(argparse.Namespace(), argv[1:])
    from switchboard.errors import PolicyRefused

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ValueError, KeyError, PolicyRefused) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
