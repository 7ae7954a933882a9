"""The Messages API stand-in's deterministic answers for the plan calls: the planner (``submit_plan``), the
drafting call (``draft_answer``) and the evaluator (``judge_step``). Not a model: keyword rules, so tests and
demos repeat. ``messages_api.choose`` hands these tools here; the request has already passed the per-model
contract there.

Plans it writes, from the request's text and context:
- a question about a ticket's status ("status" and "ticket"): search the tickets for the words after
  "about", read the best match, draft an answer citing it (judged by the evaluator), reply in the thread;
  on a replan it searches again for the longest word of the earlier query alone (a different plan);
- a GitHub request to close the issue ("close"): a review by a person, then close it and say so;
- a GitHub bug report: search this repository's issues for its words, read the best match, comment with a
  link to it and label the report ``duplicate``; when nothing is found, the fallback step triages it as a
  bug report without a plan is (``bug``, ``needs-triage``).
"""

from __future__ import annotations

import json
import re
from typing import Any

_STOP = (
    "a an the of to in on at for and or is are was be it this that with when what whats what's status "
    "ticket about i my we our you your from by as after over than please can could would"
)
STOPWORDS = frozenset(_STOP.split())

LOOKUP_BLOCK = re.compile(r'<lookup_result step="([^"]*)">(.*?)</lookup_result>', re.DOTALL)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9-]*", text.lower()) if w not in STOPWORDS and len(w) > 2]


def _subject(text: str) -> str:
    """The words after "about" (up to the end of the sentence), or the message's own key words."""
    found = re.search(r"\babout (?:the )?([^?.!\n]{3,80})", text, re.IGNORECASE)
    words = _words(found.group(1)) if found else _words(text)
    return " ".join(words[:4]) or "request"


def _step(sid: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": sid, "kind": kind, "timeout_s": 60, "retries": 1, **fields}


def _reply_step(platform: str, sid: str, text: str, deps: list[str]) -> dict[str, Any]:
    if platform == "github":
        return _step(
            sid,
            "action",
            ability="github.comment",
            params={"body": text},
            deps=deps,
            criteria=["sent"],
            on_fail="halt",
        )
    return _step(
        sid,
        "action",
        ability="slack.reply",
        params={"text": text},
        deps=deps,
        criteria=["sent"],
        on_fail="halt",
    )


def plan(text: str, facts: dict[str, Any]) -> dict[str, Any]:
    platform = str(facts.get("platform") or "")
    lowered = text.lower()
    replan = facts.get("replan")
    if platform == "github" and re.search(r"\bclose\b", lowered) and "ticket" not in lowered:
        where = f"{facts.get('repo') or 'this repository'}#{facts.get('number') or '?'}"
        return {
            "goal": f"close {where} if a maintainer agrees",
            "steps": [
                _step(
                    "approve",
                    "review",
                    question=f"Close {where} as the message asks?",
                    timeout_s=3_600,
                    criteria=["approved"],
                    on_fail="halt",
                    retries=0,
                ),
                _step(
                    "close",
                    "action",
                    ability="github.close",
                    params={"reason": "not_planned"},
                    deps=["approve"],
                    criteria=["sent"],
                    on_fail="halt",
                ),
                _reply_step(
                    "github", "tell", "A maintainer agreed to close this issue. Thanks!", ["approve"]
                ),
            ],
        }
    if "status" in lowered and "ticket" in lowered:
        query = _subject(text)
        if replan:
            earlier = (facts.get("earlier_plans") or [{}])[-1]
            steps: list[dict[str, Any]] = earlier.get("steps", [])
            first: dict[str, Any] = next((s for s in steps if s.get("tool") == "tickets.search"), {})
            previous = str(first.get("params", {}).get("query") or query)
            query = max(previous.split(), key=len) if len(previous.split()) > 1 else previous + " ticket"
        return {
            "goal": f"answer the status of the ticket about {query}, citing it",
            "steps": [
                _step(
                    "search",
                    "lookup",
                    tool="tickets.search",
                    params={"query": query},
                    criteria=["found"],
                    on_fail="replan",
                ),
                _step(
                    "read",
                    "lookup",
                    tool="tickets.get",
                    params={"id": "{{search.id}}"},
                    deps=["search"],
                    criteria=["found"],
                    on_fail="halt",
                ),
                _step(
                    "draft",
                    "model",
                    instruction="Answer the status question from the ticket; cite its id.",
                    deps=["read"],
                    criteria=["nonempty", "cites", "judge: says the ticket's status"],
                    on_fail="replan",
                    estimate_usd=0.02,
                    estimate_tokens=6_000,
                ),
                _reply_step(platform, "reply", "{{draft.text}}", ["draft"]),
            ],
        }
    query = " ".join(_words(text.split("\n", 1)[0])[:4]) or "bug"
    return {
        "goal": "find the issue this bug report duplicates, link it and label the report",
        "steps": [
            _step(
                "search",
                "lookup",
                tool="github.search_issues",
                params={"query": query},
                criteria=["found"],
                on_fail="skip",
            ),
            _step(
                "read",
                "lookup",
                tool="github.get_issue",
                params={"number": "{{search.number}}"},
                deps=["search"],
                criteria=["found"],
                on_fail="skip",
            ),
            _reply_step(
                "github",
                "comment",
                "Thanks for the report. This looks like a duplicate of {{read.ref}} ({{read.title}}); please "
                "follow that issue for updates.",
                ["read"],
            ),
            _step(
                "label",
                "action",
                ability="github.add_labels",
                params={"labels": ["duplicate"]},
                deps=["read"],
                criteria=["sent"],
                on_fail="halt",
            ),
            _step(  # no duplicate found: the bug is triaged as it is without a plan
                "triage",
                "action",
                ability="github.add_labels",
                params={"labels": ["bug", "needs-triage"]},
                deps=["read"],
                fallback=True,
                criteria=["sent"],
                on_fail="halt",
            ),
        ],
    }


def draft(content: str, facts: dict[str, Any]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for _step_id, block in LOOKUP_BLOCK.findall(content):
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            continue
        items.extend(item for item in value.get("items", []) if isinstance(item, dict))
    missing = facts.get("missing") or []
    if not items:
        text = "I could not find anything to answer from" + (
            f" (missing: {', '.join(missing)})." if missing else "."
        )
        return {"text": text, "cites": []}
    best = items[0]
    if "status" in best:
        text = (
            f"Ticket {best.get('id')} (“{best.get('title')}”) is {str(best.get('status')).replace('_', ' ')}"
            f"{', last updated ' + str(best['updated_at']) if best.get('updated_at') else ''}."
        )
        if best.get("body"):
            text += f" Latest note: {str(best['body'])[:200]}"
    else:
        text = f"This looks like {best.get('ref')} ({best.get('title')})."
    if missing:
        text += f" I could not read: {', '.join(missing)}."
    return {"text": text, "cites": [str(best.get("ref") or best.get("id") or "")]}


def judge(text: str, facts: dict[str, Any]) -> dict[str, Any]:
    criterion = str(facts.get("criterion") or "")
    if not text.strip():
        return {"passed": False, "reason": "the output is empty"}
    if "status" in criterion and not re.search(
        r"\bis (open|closed|in progress|resolved|pending|waiting)", text
    ):
        return {"passed": False, "reason": "it does not say the ticket's status"}
    return {"passed": True, "reason": f"meets: {criterion[:100]}"}


PLAN_TOOLS = frozenset({"submit_plan", "draft_answer", "judge_step"})


def answer(tool: str, text: str, facts: dict[str, Any], content: str) -> tuple[str, dict[str, Any]]:
    if tool == "submit_plan":
        return tool, plan(text, facts)
    if tool == "draft_answer":
        return tool, draft(content, facts)
    return tool, judge(text, facts)


def raw_content(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
    return ""
