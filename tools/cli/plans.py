"""The CLI's view of plans: ``switchboard trace`` shows a task's plan(s) from its history (steps, deps,
status, timing, sanitized inputs and outputs, tokens and dollars, the evaluator's verdicts, replans and their
reason), and ``switchboard tasks resolve TASK --approve|--reject`` answers a plan's waiting review with the
durable execution's callback (SendDurableExecutionCallbackSuccess / Failure)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail")
    return detail if isinstance(detail, dict) else {}


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except ValueError:
        return None


def _spend(ledger: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "calls": sum(not e.get("cached") for e in ledger),
        "tokens": sum(int(e.get("input_tokens", 0)) + int(e.get("output_tokens", 0)) for e in ledger),
        "usd": round(sum(float(e.get("usd", 0)) for e in ledger), 6),
    }


def plan_view(task: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The task's plans, in order, each with its steps as they ran; None when the task did not plan."""
    plans: dict[int, dict[str, Any]] = {}
    previous_at: str | None = None
    for entry in task.get("history", []):
        detail, at = _detail(entry), entry.get("at")
        if isinstance(detail.get("plan_started"), dict):
            previous_at = at
        if isinstance(detail.get("plan"), dict):
            note = detail["plan"]
            number = int(note.get("number", 0))
            plans[number] = {
                "number": number,
                "goal": note.get("goal"),
                "replan_of": note.get("replan"),
                "rejected": note.get("rejected") or note.get("budget"),
                "validation": note.get("validation", []),
                "planner": _spend(note.get("llm", [])),
                "steps": {s["id"]: dict(s, status="not run") for s in note.get("steps", [])},
                "at": at,
            }
            previous_at = at
        if isinstance(detail.get("plan_step"), dict):
            step = detail["plan_step"]
            current = plans.get(int(step.get("plan", 0)))
            if current is not None:
                row = current["steps"].setdefault(step["step"], {"id": step["step"]})
                output = step.get("output", {})
                verdict = step.get("verdict")
                row |= {
                    "input": step.get("input"),
                    "status": "failed" if verdict and not verdict.get("passed") else "done",
                    "seconds": _seconds(previous_at, at),
                    "output": output,
                    "verdict": verdict,
                    "spend": _spend(output.get("llm", [])),
                }
            previous_at = at
        if isinstance(detail.get("plan_eval"), dict):
            judged = detail["plan_eval"]
            current = plans.get(int(judged.get("plan", max(plans, default=0))))
            if current is not None and judged.get("step") in current["steps"]:
                row = current["steps"][judged["step"]]
                row["verdict"] = {k: judged[k] for k in ("passed", "level", "reason", "by") if k in judged}
                row["status"] = "done" if judged.get("passed") else "failed"
                row["evaluator"] = _spend(judged.get("llm", []))
        if isinstance(detail.get("plan_review"), dict):
            review = detail["plan_review"]
            current = plans.get(int(review.get("plan", 0)))
            if current is not None and review.get("step") in current["steps"]:
                current["steps"][review["step"]] |= {"status": "waiting", "review": review}
        if isinstance(detail.get("plan_end"), dict):
            for current in plans.values():
                current["end"] = detail["plan_end"]
                for sid, status in detail["plan_end"].get("steps", {}).items():
                    if sid in current["steps"] and current["number"] == max(plans):
                        current["steps"][sid]["status"] = status
    if not plans:
        return None
    return [dict(p, steps=list(p["steps"].values())) for _, p in sorted(plans.items())]


def render_plans(task: dict[str, Any]) -> list[str]:
    views = plan_view(task)
    if not views:
        return []
    lines = []
    for plan in views:
        head = f"plan {plan['number']}: {plan.get('goal') or plan.get('rejected') or '?'}"
        if plan.get("replan_of"):
            head += f"  (replan after {plan['replan_of'].get('step')}: {plan['replan_of'].get('why')})"
        spend = plan["planner"]
        lines.append(f"{head}  [planner: {spend['tokens']} tokens, ${spend['usd']:.6f}]")
        for note in plan.get("validation") or []:
            lines.append(f"    validation: {note}")
        for step in plan["steps"]:
            deps = ",".join(step.get("deps", [])) or "-"
            verdict = step.get("verdict") or {}
            cost = step.get("spend") or {"tokens": 0, "usd": 0}
            evaluator = step.get("evaluator")
            if evaluator:
                cost = {"tokens": cost["tokens"] + evaluator["tokens"], "usd": cost["usd"] + evaluator["usd"]}
            seconds = step.get("seconds")
            took = f"{seconds:.2f}s" if isinstance(seconds, float | int) else "-"
            output = json.dumps(step.get("output", {}), sort_keys=True)[:160]
            lines.append(
                f"    {step['id']:<10} {step.get('kind', ''):<7} {step.get('uses', ''):<22} deps {deps:<12} "
                f"{step.get('status', ''):<8} {took:>7}  {cost['tokens']} tok ${cost['usd']:.6f}"
            )
            if verdict:
                lines.append(
                    f"        verdict: {verdict.get('level')} ({verdict.get('by')}): {verdict.get('reason')}"
                )
            if step.get("review"):
                lines.append(f"        waits for: {step['review'].get('answer_with')}")
            if step.get("input"):
                lines.append(f"        in: {json.dumps(step['input'], sort_keys=True)[:160]}")
            lines.append(f"        out: {output}")
        if plan.get("end"):
            lines.append(f"    end: {plan['end'].get('outcome')} {plan['end'].get('reason') or ''}".rstrip())
    return lines


def pending_review(task: dict[str, Any]) -> dict[str, Any] | None:
    """The plan review that waits for a person: asked and not yet recorded as answered."""
    waiting: dict[tuple[int, str], dict[str, Any]] = {}
    for entry in task.get("history", []):
        detail = _detail(entry)
        if isinstance(detail.get("plan_review"), dict):
            review = detail["plan_review"]
            waiting[(int(review.get("plan", 0)), str(review.get("step")))] = review
        if isinstance(detail.get("plan_step"), dict):
            step = detail["plan_step"]
            waiting.pop((int(step.get("plan", 0)), str(step.get("step"))), None)
    return next(reversed(waiting.values()), None) if waiting else None


def lambda_client(target: Any, state_file: Path) -> Any:
    """The Lambda API for callbacks: the local runtime's own (``lambda_url`` in local.json), else AWS's."""
    if target.aws_endpoint_url and state_file.exists():
        from tools.local import moto_credentials

        url = json.loads(state_file.read_text()).get("lambda_url")
        if url and target.local_credentials is not None:
            return moto_credentials.client("lambda", url, target.local_credentials)
    return target.client("lambda")


def answer_review(
    client: Any, review: dict[str, Any], *, approve: bool, by: str, note: str
) -> dict[str, Any]:
    callback_id = review["callback_id"]
    if approve:
        result = json.dumps({"approved": True, "by": by, "note": note or "approved"})
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=result.encode())
    else:
        client.send_durable_execution_callback_failure(
            CallbackId=callback_id,
            Error={"ErrorType": "Declined", "ErrorMessage": f"{by}: {note or 'declined'}"[:500]},
        )
    return {"callback_id": callback_id, "step": review.get("step"), "approved": approve, "by": by}
