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
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from switchboard.claude import CONTRACTS, contract, violations
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


@dataclass
class StandinState:
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


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
    factor = contract(model).tokenizer_factor if model else 1.0
    return max(1, int(len(json.dumps(value, ensure_ascii=False)) * factor) // 4)


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
    effort = (request.get("output_config") or {}).get("effort") or rules.default_effort or "medium"
    return THINKING_TOKENS.get(effort, THINKING_TOKENS["medium"])


def answer(
    request: dict[str, Any], name: str, tool_input: dict[str, Any], fault: str | None
) -> dict[str, Any]:
    """The message body: thinking first (for thinking models), then the tool call, as the budget allows."""
    thought = thinking_tokens(request)
    content: list[dict[str, Any]] = []
    if thought:
        content.append({"type": "thinking", "thinking": "", "signature": uuid.uuid4().hex * 2})
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
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": {"category": "stand-in refusal"} if stop == "refusal" else None,
        "usage": {"input_tokens": input_tokens(request), "output_tokens": output},
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

            def do_GET(self) -> None:
                if self.path == "/_standin/calls":
                    with state.lock:
                        self._send(200, list(state.calls))
                else:
                    self._send(404, _error("not_found_error", "no such route"))

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
                route = self.path.split("?")[0]
                if route == "/v1/messages/count_tokens":
                    self._send(200, {"input_tokens": input_tokens(self._body())})
                    return
                if route != "/v1/messages":
                    self._send(404, _error("not_found_error", f"no route {self.path}"))
                    return
                request = self._body()
                broken = violations(request)
                if broken:
                    with state.lock:
                        state.calls.append(
                            {
                                "model": request.get("model"),
                                "rejected": [v.param for v in broken],
                                "at": time.time(),
                            }
                        )
                    self._send(400, _error("invalid_request_error", " ".join(v.message for v in broken)))
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
                    name, tool_input = choose(request, malformed=fault == "malformed")
                    body = answer(request, name, tool_input, fault)
                    record["tool"] = name if body["stop_reason"] == "tool_use" else None
                    record["stop_reason"] = body["stop_reason"]
                    record["content"] = [block["type"] for block in body["content"]]
                    record["request"] = {
                        key: request.get(key)
                        for key in ("tool_choice", "max_tokens", "output_config", "thinking")
                    }
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
