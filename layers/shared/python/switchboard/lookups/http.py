"""The lookups over HTTP: GitHub's REST API, the tickets API and Slack's Web API, read-only.

Paths follow the vendors' documented endpoints, so pointing a base URL at the local recording sink or at the
real API is the only difference:
- GitHub "Get an issue" ``GET /repos/{owner}/{repo}/issues/{number}``, "Get a pull request"
  ``GET /repos/{owner}/{repo}/pulls/{number}`` and "Search issues and pull requests"
  ``GET /search/issues?q=…+repo:{owner}/{repo}+is:issue`` (https://docs.github.com/rest/issues/issues,
  https://docs.github.com/rest/pulls/pulls, https://docs.github.com/rest/search/search);
- Slack ``conversations.replies`` (https://api.slack.com/methods/conversations.replies);
- the tickets API: ``GET /tickets?q=`` (search) and ``GET /tickets/{id}``.

Every path segment is checked and percent-encoded (``switchboard.actions.http.segment``); every value read
is sanitized (``switchboard.lookups.result``). Tokens are given per service (the same secrets the act
workers read; a read-only token is enough).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from switchboard.actions.http import JsonHttpClient, segment
from switchboard.errors import PermanentActionError
from switchboard.lookups import LookupResult, result

GITHUB_API_VERSION: Final = "2022-11-28"
OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}")
REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
NUMBER = re.compile(r"[1-9][0-9]{0,18}")
TICKET = re.compile(r"[A-Z]{2,10}-[0-9]{1,9}")


class HttpLookups:
    """``Lookups`` over HTTP. ``base_urls`` and ``tokens`` are by service (github, tickets, slack)."""

    def __init__(self, base_urls: Mapping[str, str], tokens: Callable[[str], str]) -> None:
        self.base_urls = dict(base_urls)
        self.tokens = tokens

    def _client(self, service: str, timeout: float) -> JsonHttpClient:
        headers = {"Authorization": f"Bearer {self.tokens(service)}", "User-Agent": "switchboard-agent"}
        if service == "github":
            headers |= {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": GITHUB_API_VERSION}
        return JsonHttpClient(service, self.base_urls[service], headers, timeout)

    def run(self, name: str, params: dict[str, Any], timeout: float) -> LookupResult:
        if name in ("github.get_issue", "github.get_pull"):
            owner, repo = str(params["repo"]).split("/", 1)
            kind = "issues" if name == "github.get_issue" else "pulls"
            owner_part = segment("github", "owner", owner, OWNER)
            repo_part = segment("github", "repo", repo, REPOSITORY)
            number_part = segment("github", "number", params["number"], NUMBER)
            path = f"/repos/{owner_part}/{repo_part}/{kind}/{number_part}"
            body = self._client("github", timeout).call("GET", path).body
            return result(name, [_issue(body)] if isinstance(body, dict) else [])
        if name == "github.search_issues":
            query = f"{params['query']} repo:{params['repo']} is:issue"
            path = "/search/issues?" + urlencode({"q": query, "per_page": 5})
            body = self._client("github", timeout).call("GET", path).body
            items = body.get("items", []) if isinstance(body, dict) else []
            return result(name, [_issue(item) for item in items if isinstance(item, dict)])
        if name == "tickets.search":
            path = "/tickets?" + urlencode({"q": params["query"]})
            body = self._client("tickets", timeout).call("GET", path).body
            found = body.get("tickets", []) if isinstance(body, dict) else []
            return result(name, [_ticket(item) for item in found if isinstance(item, dict)])
        if name == "tickets.get":
            path = f"/tickets/{segment('tickets', 'ticket id', params['id'], TICKET)}"
            body = self._client("tickets", timeout).call("GET", path).body
            return result(name, [_ticket(body)] if isinstance(body, dict) else [])
        if name == "slack.thread":
            path = "/conversations.replies?" + urlencode(
                {"channel": params["channel"], "ts": params["thread_ts"]}
            )
            body = self._client("slack", timeout).call("GET", path).body
            if not isinstance(body, dict) or not body.get("ok"):
                error = body.get("error") if isinstance(body, dict) else "no answer"
                raise PermanentActionError("slack", f"conversations.replies: {error}")
            messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
            return result(
                name, [{"ref": m.get("ts"), "user": m.get("user"), "text": m.get("text")} for m in messages]
            )
        raise PermanentActionError("lookups", f"no adapter for {name}")


def _issue(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": body.get("html_url"),
        "number": body.get("number"),
        "title": body.get("title"),
        "state": body.get("state"),
        "body": body.get("body") or "",
        "labels": [label.get("name") for label in body.get("labels") or [] if isinstance(label, dict)],
    }


def _ticket(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": body.get("id"),
        "id": body.get("id"),
        "title": body.get("title"),
        "status": body.get("status"),
        "body": body.get("body") or "",
        "url": body.get("url"),
        "updated_at": body.get("updated_at"),
    }
