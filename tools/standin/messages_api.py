"""A local stand-in for Anthropic's Messages API, for `make local` and the tests when no API key is set.

It is a loopback HTTP server that speaks the Messages API shape (``POST /v1/messages`` with tools and
``tool_choice``, ``tool_use`` content blocks, usage counts, error bodies), so the real ``anthropic`` SDK talks
to it through ``base_url``. It is NOT a model: it chooses deterministically, from keyword tables, so that
tests and demos are repeatable. It can inject faults: 429 with retry-after, 529 overloaded, 500, a slow
answer, malformed tool input, a ``refusal`` stop and a ``max_tokens`` stop before the tool call.
``GET /_standin/calls`` lists what it was asked; ``POST /_standin/faults`` queues faults for the next
requests; ``DELETE /_standin/calls`` clears the log.

It enforces the documented per-model request contract (``switchboard.claude.CONTRACTS``, each rule citing
Anthropic's page): a request that breaks one is answered 400 with the API's error shape, as the API would.
For the thinking models it answers the way the docs describe: a thinking block (empty text, as at the default
``display``, with a ``signature``) before the tool call, its tokens counted in ``usage.output_tokens`` and
against ``max_tokens`` (a call that leaves too little room stops at ``max_tokens`` with no tool call). Input
tokens are counted with the model's documented tokenizer factor; ``POST /v1/messages/count_tokens`` answers
the same count.

What else it enforces, per the pages cited in ``switchboard.claude``:
- [THINK]: an assistant tool_use sent back while up-front thinking is on must come with its thinking blocks
  first, their signatures intact and issued for the same model (a signature is an HMAC of the model and the
  thinking text, so a modified, dropped or foreign block is refused with a 400).
- [STRICT]: a ``strict`` tool whose schema leaves the supported subset is a 400.
- [CACHE]: ``cache_control`` caches the prefix (tools, then system, then messages up to the marked block) for
  5 minutes from its last use, only when it is at least the model's minimum cacheable length (shorter: no
  cache, no error); usage reports ``cache_creation_input_tokens`` and ``cache_read_input_tokens`` apart from
  ``input_tokens``; more than 4 breakpoints is a 400.
- [BATCH]: ``POST /v1/messages/batches`` (custom_id unique and ``^[a-zA-Z0-9_-]{1,64}$``, else a 400),
  ``GET /v1/messages/batches/{id}`` (``in_progress`` until ``batch_seconds`` have passed, then ``ended``, or
  every request ``expired`` once 24 hours passed first: the stand-in's clock can be moved with
  ``POST /_standin/clock``), ``GET /v1/messages/batches/{id}/results`` (JSONL, one line per request; each
  request's params validated then, an invalid one ``errored`` with the same error as the Messages API).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from switchboard.claude import CONTRACTS, contract, count_tokens, thinks_up_front, violations
from tools.local.loopback import ServerThread
from tools.standin.planner import PLAN_TOOLS, raw_content
from tools.standin.planner import answer as plan_answer

BANNER = "Messages API STAND-IN (deterministic keyword rules, not a model)"

INJECTION = re.compile(
    r"ignore (?:all |any )?(?:previous|prior|above) (?:instructions|rules)|system prompt|you are now|"
    r"disregard (?:your|the) (?:rules|instructions)|developer mode|jailbreak|</?user_message>|"
    r"act as (?:an? )?(?:admin|root)|reveal (?:your|the) (?:secret|key|token|prompt)|"
    r"ignore (?:your|the) (?:(?:previous|prior|earlier) )?(?:instructions|rules|above)|new instructions|"
    r"pretend (?:you are|you're|to be)|(?m:^\s*system\s*:)|"
    r"vorherigen anweisungen|instrucciones anteriores|instructions précédentes|предыдущие инструкции",
    re.IGNORECASE,
)

KEYWORDS: dict[str, tuple[str, ...]] = {
    "abuse": ("idiot", "moron", "shut up", "trash bot", "hate you"),
    "spam": (
        "click here",
        "limited offer",
        "promo code",
        "discount",
        "subscribe to my",
        "visit my profile",
        "haz clic",
        "gana dinero",
    ),
    "bug_report": (
        "error",
        "crash",
        "exception",
        "traceback",
        "bug",
        "broken",
        "fails",
        "failing",
        "failed",
        "doesn't work",
        "does not work",
        "not working",
        "regression",
        "500",
        "stack trace",
        "segfault",
        "fehler",
        "erreur",
        "falla",
        "不具合",
        "ошибка",
        "blank screen",
        "hangs",
        "timeout",
        "stopped working",
        "não funciona",
        "エラー",
        "错误",
    ),
    "question": (
        "how do",
        "how can",
        "how to",
        "what is",
        "what's",  # its contraction, with either apostrophe: "what's the status of …?" asks
        "what\u2019s",
        "what does",
        "why does",
        "why is",
        "is it possible",
        "can i",
        "can you explain",
        "does it",
        "where is",
        "when will",
        "wie kann",
        "comment ",
        "cómo",
        "как ",
        "どうやって",
        "which version",
    ),
    "feature_request": (
        "feature",
        "would be nice",
        "please add",
        "support for",
        "could you add",
        "it would be great",
        "proposal",
        "enhancement",
        "wish",
        "add an option",
        "add a way",
    ),
    "support_request": (
        "can't log in",
        "cannot log in",
        "my account",
        "billing",
        "refund",
        "invoice",
        "password reset",
        "locked out",
        "access to",
        "subscription",
        "charged",
    ),
    "feedback": (
        "thanks",
        "thank you",
        "love",
        "great work",
        "awesome",
        "amazing",
        "merci",
        "danke",
        "gracias",
        "well done",
        "kudos",
        "nice job",
        "grazie",
        "obrigad",
        "bedankt",
        "спасибо",
        "ありがとう",
    ),
}
PRIORITY = ("abuse", "spam", "bug_report", "support_request", "feature_request", "question", "feedback")


CACHE_TTL_SECONDS = 300  # [CACHE]: the default ephemeral cache lives 5 minutes from its last use
BATCH_EXPIRY_SECONDS = 24 * 3600  # [BATCH]: expires_at is 24 hours after creation
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class StandinState:
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    secret: bytes = field(default_factory=lambda: uuid.uuid4().bytes)
    prompt_cache: dict[str, float] = field(default_factory=dict)  # prefix hash -> expires at (stand-in clock)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock_offset: float = 0.0  # seconds added to time.time(): tests move the clock past a TTL or an expiry
    batch_seconds: float = 0.0  # how long a batch stays in_progress
    counted: list[int] = field(default_factory=list)  # what /v1/messages/count_tokens answered

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def now(self) -> float:
        return time.time() + self.clock_offset

    def sign(self, model: str, thinking: str) -> str:
        return hmac.new(self.secret, f"{model}\n{thinking}".encode(), hashlib.sha256).hexdigest()


def extract(messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The delimited user text and the context JSON from the first user turn."""
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        text = (
            content
            if isinstance(content, str)
            else " ".join(block.get("text", "") for block in content or [] if isinstance(block, dict))
        )
        user = re.search(r"<user_message>\n?(.*?)\n?</user_message>", text, re.DOTALL)
        context = re.search(r"<context>(.*?)</context>", text, re.DOTALL)
        try:
            facts = json.loads(context.group(1)) if context else {}
        except json.JSONDecodeError:
            facts = {}
        return (_decoded(user.group(1)) if user else text), facts if isinstance(facts, dict) else {}
    return "", {}


def _decoded(block: str) -> str:
    """The message block's text: Switchboard's frame holds one JSON string (``switchboard.prompts.frame``); a
    hand-written prompt may hold plain text, which is read as it is."""
    try:
        value = json.loads(block)
    except json.JSONDecodeError:
        return block
    return value if isinstance(value, str) else block


def classify(text: str, tier: str) -> dict[str, Any]:
    lowered = text.lower()
    if INJECTION.search(text):
        return {"intent": "other", "confidence": 0.3 if tier == "small" else 0.8}
    hits = {intent: sum(word in lowered for word in words) for intent, words in KEYWORDS.items()}
    if text.strip().endswith("?") or "?" in text[:200]:
        hits["question"] += 1
    ranked = sorted((count, -PRIORITY.index(intent), intent) for intent, count in hits.items() if count)
    if not ranked:
        return {"intent": "other", "confidence": 0.4 if tier == "small" else 0.75}
    top_count, _, top = ranked[-1]
    rival = ranked[-2][0] if len(ranked) > 1 else 0
    if top_count > rival:
        confidence = 0.93 if top_count >= 2 else 0.85
    else:  # a tie: the small model is unsure, a bigger one breaks it by priority
        confidence = 0.55 if tier == "small" else 0.8
        top = min((intent for count, _, intent in ranked if count == top_count), key=PRIORITY.index)
    return {"intent": top, "confidence": confidence}


def decide(text: str, facts: dict[str, Any], tools: list[str]) -> tuple[str, dict[str, Any]]:
    """A tool and its input, the way a helpful (or, for injected text, a hijacked) model would choose."""
    if INJECTION.search(text):
        # A hijacked model tries to act somewhere else: our code must refuse it.
        name = "github__close" if "github__close" in tools else tools[0]
        return name, {"repo": "attacker/elsewhere", "number": 1, "reason": "completed"}
    intent = facts.get("intent", "other")
    first_line = (text.split("\n", 1)[0] or "A request")[:100]
    answer = (
        f"Thanks for reaching out. I've read your message (“{first_line[:60]}”) and a maintainer will follow "
        "up here. In the meantime, the project README and docs/runbook.md cover the common cases."
    )
    if intent == "feature_request" and "github__add_labels" in tools:
        return "github__add_labels", {"labels": ["enhancement"]}
    if intent == "support_request" and "tickets__create" in tools:
        return "tickets__create", {
            "title": first_line if len(first_line) >= 3 else "Support request",
            "body": text,
        }
    for reply in ("github__comment", "slack__reply"):
        if reply in tools:
            return reply, {"body": answer} if reply == "github__comment" else {"text": answer}
    if "tickets__create" in tools:
        return "tickets__create", {
            "title": first_line if len(first_line) >= 3 else "Request",
            "body": text or "-",
        }
    return "escalate__human", {
        "summary": f"Please look at: {first_line}",
        "decision_needed": "How to answer?",
    }


def choose(request: dict[str, Any], malformed: bool) -> tuple[str, dict[str, Any]]:
    tools = [tool["name"] for tool in request.get("tools", [])]
    choice = request.get("tool_choice") or {}
    text, facts = extract(request.get("messages", []))
    tier = "small" if "haiku" in str(request.get("model")) else "large"
    if choice.get("type") == "tool":
        tools = [choice["name"]]
    if "classify_intent" in tools:
        result: tuple[str, dict[str, Any]] = ("classify_intent", classify(text, tier))
    elif planned := PLAN_TOOLS.intersection(tools):  # the plan calls: tools/standin/planner.py
        result = plan_answer(min(planned), text, facts, raw_content(request.get("messages", [])))
    else:
        result = decide(text, facts, tools)
    if malformed:
        name, tool_input = result
        broken = {key: "??" for key in tool_input} | {"unexpected": True}
        return name, broken
    return result


def tokens(value: Any, model: str | None = None) -> int:
    """About 4 characters a token on the old tokenizer, times the model's documented tokenizer factor."""
    return count_tokens(value, model)


def input_tokens(request: dict[str, Any]) -> int:
    model = str(request.get("model"))
    return tokens([request.get("system"), request.get("messages"), request.get("tools")], model)


# Thinking tokens a model spends before its tool call, by effort: a stand-in figure (the docs give none).
THINKING_TOKENS = {"low": 120, "medium": 360, "high": 900, "xhigh": 1_800, "max": 3_600}


def thinking_tokens(request: dict[str, Any]) -> int:
    """0 for a model without thinking; otherwise by the request's effort, or the model's default effort."""
    model = str(request.get("model"))
    rules = contract(model)
    if model not in CONTRACTS:  # every model of the table thinks adaptively by default
        return 0
    thinking = request.get("thinking") or {}
    if thinking.get("type") == "disabled" and rules.thinking != "always":
        return 0
    if thinking.get("type") == "between_tools":  # [S55]: no up-front thinking; we answer with one tool call
        return 0
    effort = (request.get("output_config") or {}).get("effort") or rules.default_effort or "medium"
    return THINKING_TOKENS.get(effort, THINKING_TOKENS["medium"])


def thinking_problems(state: StandinState, request: dict[str, Any]) -> list[str]:
    """[THINK]: each thinking block sent back must carry the signature given for this model."""
    if not thinks_up_front(request):
        return []
    model = str(request.get("model"))
    problems = []
    for index, message in enumerate(request.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for position, block in enumerate(content if isinstance(content, list) else []):
            if isinstance(block, dict) and block.get("type") == "thinking":
                expected = state.sign(model, str(block.get("thinking", "")))
                if not hmac.compare_digest(str(block.get("signature", "")), expected):
                    problems.append(
                        f"messages.{index}.content.{position}: Invalid `signature` in `thinking` block"
                    )
    return problems


def _breakpoint_prefix(request: dict[str, Any]) -> list[Any] | None:
    """The cached prefix: tools, system, messages in that order, up to the last block with cache_control."""
    parts: list[Any] = []
    last: int | None = None
    sections = [
        ("tools", request.get("tools") or []),
        ("system", request.get("system") if isinstance(request.get("system"), list) else []),
    ]
    for message in request.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        sections.append(("message", content if isinstance(content, list) else []))
    for _, blocks in sections:
        for block in blocks or []:
            parts.append(block)
            if isinstance(block, dict) and "cache_control" in block:
                last = len(parts)
    return parts[:last] if last is not None else None


def cache_usage(state: StandinState, request: dict[str, Any]) -> tuple[int, int, int]:
    """(uncached input, cache writes, cache reads) for this request, updating the prompt cache ([CACHE])."""
    model = str(request.get("model"))
    total = input_tokens(request)
    prefix = _breakpoint_prefix(request)
    if prefix is None:
        return total, 0, 0
    cached = min(
        total - 1,
        tokens([block.get("text", block) if isinstance(block, dict) else block for block in prefix], model),
    )
    if cached < contract(model).cache_min_tokens:
        return total, 0, 0  # shorter than the model's minimum: not cached, and no error
    key = hashlib.sha256(json.dumps([model, prefix], sort_keys=True).encode()).hexdigest()
    now = state.now()
    with state.lock:
        hit = state.prompt_cache.get(key, 0.0) > now
        state.prompt_cache[key] = now + CACHE_TTL_SECONDS  # refreshed on every use
    return (total - cached, 0, cached) if hit else (total - cached, cached, 0)


def answer(
    request: dict[str, Any],
    name: str,
    tool_input: dict[str, Any],
    fault: str | None,
    state: StandinState | None = None,
) -> dict[str, Any]:
    """The message body: thinking first (for thinking models), then the tool call, as the budget allows."""
    state = state or StandinState()
    thought = thinking_tokens(request)
    content: list[dict[str, Any]] = []
    if thought:
        model = str(request.get("model"))
        content.append({"type": "thinking", "thinking": "", "signature": state.sign(model, "")})
    tool_tokens = tokens(tool_input) + 12
    limit = int(request.get("max_tokens") or 0)
    if fault == "refusal":
        stop, output = "refusal", thought + 4
        content = content[:1]
    elif fault == "max_tokens" or thought + tool_tokens > limit:
        stop, output = "max_tokens", limit  # cut off while thinking: no tool call
    else:
        stop, output = "tool_use", thought + tool_tokens
        content.append(
            {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": tool_input}
        )
    uncached, written, read = cache_usage(state, request)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": {"category": "stand-in refusal"} if stop == "refusal" else None,
        "usage": {
            "input_tokens": uncached,
            "output_tokens": output,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        },
    }


def respond(
    state: StandinState, request: dict[str, Any], fault: str | None, record: dict[str, Any]
) -> dict[str, Any]:
    """One accepted request's answer, with what it cost written into the call log's ``record``."""
    name, tool_input = choose(request, malformed=fault == "malformed")
    body = answer(request, name, tool_input, fault, state)
    record["tool"] = name if body["stop_reason"] == "tool_use" else None
    record["stop_reason"] = body["stop_reason"]
    record["content"] = [block["type"] for block in body["content"]]
    record["request"] = {
        key: request.get(key) for key in ("tool_choice", "max_tokens", "output_config", "thinking")
    }
    record["usage"] = body["usage"]
    record["thinking_tokens"] = thinking_tokens(request) if body["content"] else 0
    return body


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def create_batch(state: StandinState, body: Any) -> tuple[int, dict[str, Any]]:
    """[BATCH] Create a Message Batch: its shape is checked now, each request's params when processed."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return 400, _error("invalid_request_error", "requests: Field required (a non-empty list)")
    seen: set[str] = set()
    for index, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
            return 400, _error(
                "invalid_request_error",
                f"requests.{index}.custom_id: String should match ^[a-zA-Z0-9_-]{{1,64}}$",
            )
        if custom_id in seen:
            return 400, _error("invalid_request_error", f"requests.{index}.custom_id: duplicate custom_id")
        seen.add(custom_id)
        if not isinstance(item.get("params"), dict):
            return 400, _error("invalid_request_error", f"requests.{index}.params: Field required")
    now = state.now()
    batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
    batch: dict[str, Any] = {
        "id": batch_id,
        "requests": requests,
        "created": now,
        "processing_status": "in_progress",
        "results": [],
        "ended": None,
    }
    with state.lock:
        state.batches[batch_id] = batch
    return 200, batch_view(batch, "")


def advance_batch(state: StandinState, batch_id: str) -> dict[str, Any] | None:
    """Process a batch once its time has come; past its expiry (24 h) every unprocessed request expires."""
    with state.lock:
        batch = state.batches.get(batch_id)
    if batch is None or batch["processing_status"] == "ended":
        return batch
    now = state.now()
    if now >= batch["created"] + BATCH_EXPIRY_SECONDS:
        batch["results"] = [
            {"custom_id": r["custom_id"], "result": {"type": "expired"}} for r in batch["requests"]
        ]
    elif now >= batch["created"] + state.batch_seconds:
        batch["results"] = [_batch_result(state, item) for item in batch["requests"]]
    else:
        return batch
    batch["processing_status"], batch["ended"] = "ended", now
    return batch


def _batch_result(state: StandinState, item: dict[str, Any]) -> dict[str, Any]:
    params = item["params"]
    record: dict[str, Any] = {"model": params.get("model"), "batch": True, "at": time.time()}
    record["tools"] = [t.get("name") for t in params.get("tools", []) if isinstance(t, dict)]
    broken = [v.message for v in violations(params)] + thinking_problems(state, params)
    if broken:
        record["rejected"] = broken
        result: dict[str, Any] = {
            "type": "errored",
            "error": _error("invalid_request_error", " ".join(broken)),
        }
    else:
        result = {"type": "succeeded", "message": respond(state, params, None, record)}
    with state.lock:
        state.calls.append(record)
    return {"custom_id": item["custom_id"], "result": result}


def batch_view(batch: dict[str, Any], host: str) -> dict[str, Any]:
    """The MessageBatch object of the API reference."""
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if batch["processing_status"] == "ended":
        for line in batch["results"]:
            counts[line["result"]["type"]] += 1
    else:
        counts["processing"] = len(batch["requests"])
    ended = batch["processing_status"] == "ended"
    return {
        "id": batch["id"],
        "type": "message_batch",
        "processing_status": batch["processing_status"],
        "request_counts": counts,
        "ended_at": _iso(batch["ended"]) if ended else None,
        "created_at": _iso(batch["created"]),
        "expires_at": _iso(batch["created"] + BATCH_EXPIRY_SECONDS),
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": f"http://{host}/v1/messages/batches/{batch['id']}/results" if ended else None,
    }


class MessagesApiStandin:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, slow_seconds: float = 12.0) -> None:
        self.state = StandinState()
        self.slow_seconds = slow_seconds
        state, slow = self.state, slow_seconds

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("content-length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _send_text(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("content-type", "application/binary")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                route = self.path.split("?")[0]
                if route == "/_standin/calls":
                    with state.lock:
                        self._send(200, list(state.calls))
                    return
                match = re.fullmatch(r"/v1/messages/batches/([A-Za-z0-9_]+)(/results)?", route)
                if match is None:
                    self._send(404, _error("not_found_error", "no such route"))
                    return
                batch = advance_batch(state, match.group(1))
                if batch is None:
                    self._send(404, _error("not_found_error", f"no batch {match.group(1)}"))
                elif match.group(2) is None:
                    self._send(200, batch_view(batch, self.headers.get("host", "127.0.0.1")))
                elif batch["processing_status"] != "ended":
                    self._send(400, _error("invalid_request_error", "Batch results are not yet available."))
                else:
                    self._send_text(200, "".join(json.dumps(line) + "\n" for line in batch["results"]))

            def do_DELETE(self) -> None:
                if self.path == "/_standin/calls":
                    with state.lock:
                        state.calls.clear()
                        state.faults.clear()
                    self._send(200, {"cleared": True})
                else:
                    self._send(404, _error("not_found_error", "no such route"))

            def do_POST(self) -> None:
                if self.path == "/_standin/faults":
                    faults = self._body().get("faults", [])
                    with state.lock:
                        state.faults.extend(str(fault) for fault in faults)
                    self._send(200, {"queued": len(faults)})
                    return
                if self.path == "/_standin/clock":
                    body = self._body()
                    with state.lock:
                        state.clock_offset += float(body.get("advance_seconds", 0))
                        if "batch_seconds" in body:
                            state.batch_seconds = float(body["batch_seconds"])
                    self._send(200, {"offset": state.clock_offset})
                    return
                route = self.path.split("?")[0]
                if route == "/v1/messages/count_tokens":
                    counted = input_tokens(self._body())
                    with state.lock:
                        state.counted.append(counted)  # apart from ``calls``: counting is not a model call
                    self._send(200, {"input_tokens": counted})
                    return
                if route == "/v1/messages/batches":
                    status, body = create_batch(state, self._body())
                    self._send(status, body)
                    return
                if route != "/v1/messages":
                    self._send(404, _error("not_found_error", f"no route {self.path}"))
                    return
                request = self._body()
                found, unsigned = violations(request), thinking_problems(state, request)
                broken = [v.message for v in found] + unsigned
                if broken:
                    rejected = [v.param for v in found] + ["messages"] * len(unsigned)
                    with state.lock:
                        state.calls.append(
                            {"model": request.get("model"), "rejected": rejected, "at": time.time()}
                        )
                    self._send(400, _error("invalid_request_error", " ".join(broken)))
                    return
                fault = state.next_fault()
                record = {
                    "model": request.get("model"),
                    "tools": [t.get("name") for t in request.get("tools", [])],
                }
                with state.lock:
                    record |= {"fault": fault, "at": time.time()}
                    state.calls.append(record)
                if fault == "429":
                    self._send(429, _error("rate_limit_error", "stand-in rate limit"), {"retry-after": "1"})
                elif fault == "529":
                    self._send(529, _error("overloaded_error", "stand-in overloaded"))
                elif fault == "500":
                    self._send(500, _error("api_error", "stand-in internal error"))
                else:
                    if fault == "slow":
                        time.sleep(slow)
                    body = respond(state, request, fault, record)
                    self._send(200, body)

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._loop = ServerThread(server, "messages-api-standin")

    @property
    def url(self) -> str:
        return self._loop.url

    def start(self) -> MessagesApiStandin:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()

    def __enter__(self) -> MessagesApiStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
