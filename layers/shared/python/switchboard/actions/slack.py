"""Slack Web API executor (``chat.postMessage``), and the escalation executor that pages people on Slack.

Slack answers HTTP 200 with ``{"ok": false, "error": …}`` for most failures
(https://api.slack.com/methods/chat.postMessage#errors):
- ``ratelimited`` (also sent as HTTP 429 with ``Retry-After``) and the ``*_error``/``service_unavailable``
  family are transient;
- credential and permission errors (``invalid_auth``, ``not_in_channel``, ``missing_scope`` …) are
  ``AccessDenied``: permanent, but a person can fix them;
- everything else (``channel_not_found``, ``msg_too_long`` …) is permanent.

A message is not a set: posting it twice shows it twice. Each post carries message metadata naming the action
(https://api.slack.com/metadata/using); on a redelivery ``find_effect`` reads the thread
(``conversations.replies``) or the channel's newest messages (``conversations.history``) with
``include_all_metadata`` and returns the earlier attempt's message instead of posting again. That read needs
the ``channels:history`` scope (``groups:history`` for private channels); without it the lookup is skipped
with a warning and the post is made, as before.

Every text is rendered for Slack before it is posted (``switchboard.render.slack``: ``&``, ``<``, ``>``
escaped, no broadcast or mention, links only to allowed hosts); the escalation page renders each field and
shows the message it quotes as a quote (``render.quote``), so quoted text can neither forge the page's own
lines nor ping anyone.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from switchboard import render
from switchboard.actions.http import HttpCall, HttpResult, JsonHttpClient, retry_after, segment
from switchboard.errors import AccessDenied, PermanentActionError, TransientActionError
from switchboard.models import ActionRequest

TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)
METADATA_EVENT: Final = "switchboard_action"
#: Pages of a thread (200 messages each) read back at most; a channel's newest 100 messages are read.
MAX_THREAD_PAGES: Final = 5
#: A Web API method is the one path segment (https://api.slack.com/web#basics); channel, ts and cursor go in
#: the query string (``urlencode``) or the JSON body, never in the path.
METHOD: Final = re.compile(r"[a-z]+(?:\.[A-Za-z]+)+")

logger = Logger(child=True)

ACCESS_SLACK_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_in_channel",
        "access_denied",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)


class SlackApi:
    def __init__(self, service: str, base_url: str, token: str, timeout: float) -> None:
        self.service = service
        self.http = JsonHttpClient(
            service,
            base_url,
            {"Authorization": f"Bearer {token}", "User-Agent": "switchboard-agent"},
            timeout,
        )

    @staticmethod
    def post_message_call(
        channel: str, text: str, thread_ts: str | None = None, action_id: str | None = None
    ) -> HttpCall:
        body: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if thread_ts:
            body["thread_ts"] = thread_ts
        if action_id:
            body["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"action_id": action_id}}
        return HttpCall("POST", "/" + segment("slack", "method", "chat.postMessage", METHOD), body)

    def find_posted(
        self, channel: str, action_id: str, thread_ts: str | None = None
    ) -> dict[str, Any] | None:
        """The message an earlier attempt posted for this action, from the thread or the channel, or None."""
        query: dict[str, Any] = {"channel": channel, "include_all_metadata": "true"}
        method = segment(
            self.service, "method", "conversations.replies" if thread_ts else "conversations.history", METHOD
        )
        query |= {"ts": thread_ts, "limit": 200} if thread_ts else {"limit": 100}
        for _ in range(MAX_THREAD_PAGES if thread_ts else 1):
            try:
                page = self._page(self.http.send(HttpCall("GET", f"/{method}?{urlencode(query)}")))
            except AccessDenied as exc:
                logger.warning("cannot read back messages: posting without the check", reason=exc.reason)
                return None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") if isinstance(message, dict) else None
                payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
                if isinstance(payload, dict) and payload.get("action_id") == action_id:
                    return {"status": 200, "channel": channel, "ts": message.get("ts")}
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            query["cursor"] = cursor
        return None

    def post_message(self, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
        return self.send(self.post_message_call(channel, text, thread_ts))

    def send(self, call: HttpCall) -> dict[str, Any]:
        return self._ok(self.http.send(call))

    def _ok(self, result: HttpResult) -> dict[str, Any]:
        body = self._page(result)
        return {"status": result.status, "channel": body.get("channel"), "ts": body.get("ts")}

    def _page(self, result: HttpResult) -> dict[str, Any]:
        """Slack's answer when it is `ok`; its error as ours otherwise."""
        body = result.body if isinstance(result.body, dict) else {}
        if body.get("ok"):
            return body
        error = str(body.get("error") or "unknown_error")
        reason = f"slack error {error}"
        if error in TRANSIENT_SLACK_ERRORS:
            wait = retry_after(_header(result.headers, "Retry-After"))
            raise TransientActionError(self.service, reason, result.status, retry_after=wait)
        if error in ACCESS_SLACK_ERRORS:
            raise AccessDenied(self.service, reason, result.status)
        raise PermanentActionError(self.service, reason, result.status)


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


class SlackExecutor:
    def __init__(
        self, base_url: str, token: str, timeout: float, *, links: render.LinkPolicy | None = None
    ) -> None:
        self.api = SlackApi("slack", base_url, token, timeout)
        self.links = links or render.LinkPolicy.for_platform("slack")

    @property
    def base_url(self) -> str:
        return self.api.http.base_url

    def describe(self, action: ActionRequest) -> HttpCall:
        if action.ability != "slack.reply":
            raise PermanentActionError("slack", f"ability {action.ability} has no Slack executor")
        params = action.params
        text = render.slack(params["text"], self.links)
        return self.api.post_message_call(params["channel"], text, params["thread_ts"], action.action_id)

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        return self.api.send(self.describe(action))

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        if action.ability != "slack.reply":
            return None
        params = action.params
        return self.api.find_posted(params["channel"], action.action_id, params["thread_ts"])


class EscalateExecutor:
    """Hands a task to people in a configured Slack channel, with everything they need to decide."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float,
        channel: str,
        *,
        links: render.LinkPolicy | None = None,
    ) -> None:
        if not channel:
            raise ValueError("escalation needs a channel (ESCALATION_CHANNEL)")
        self.api = SlackApi("escalate", base_url, token, timeout)
        self.channel = channel
        self.links = links or render.LinkPolicy.for_platform("slack")

    @property
    def base_url(self) -> str:
        return self.api.http.base_url

    def describe(self, action: ActionRequest) -> HttpCall:
        if action.ability != "escalate.human":
            raise PermanentActionError("escalate", f"ability {action.ability} has no escalation executor")
        text = page(action.params, self.links)
        return self.api.post_message_call(self.channel, text, action_id=action.action_id)

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        return self.api.send(self.describe(action))

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        if action.ability != "escalate.human":
            return None
        return self.api.find_posted(self.channel, action.action_id)


def page(p: dict[str, Any], links: render.LinkPolicy | None = None) -> str:
    """The escalation page. The template's own lines are the only ones that start with a field name: every
    value is rendered on one line (``_line``), and the summary, which quotes the message, is a quote block
    (``render.quote``) below its field, so no text inside it can start a line of the page or ping anyone."""
    links = links or render.LinkPolicy.for_platform("slack")

    def _line(value: Any) -> str:
        return render.slack(" ".join(str(value).split()), links)

    task = _line(p["task_id"]).replace("`", "'")
    tried = "\n".join(f"• {_line(step)}" for step in p.get("tried", [])) or "• nothing yet"
    return (
        f":rotating_light: *Switchboard needs a person* — task `{task}`\n"
        f"*What came in:*\n{render.quote(str(p['summary']), 'slack', links)}\n"
        f"*What was tried:*\n{tried}\n"
        f"*What you must decide:* {_line(p['decision_needed'])}\n"
        f"*Where:* {_line(p['platform'])} {_line(p['conversation'])} {_line(p.get('source', ''))}\n"
        f"Resolve it with `switchboard tasks resolve {task}`."
    )
