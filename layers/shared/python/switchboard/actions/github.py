"""GitHub REST API executor. Paths, bodies and headers follow GitHub's documented API, so pointing the base
URL at https://api.github.com is the only change between the local sink and the real service.

- ``github.add_labels``: ``POST /repos/{owner}/{repo}/issues/{number}/labels`` ``{"labels": [...]}``
  (https://docs.github.com/rest/issues/labels#add-labels-to-an-issue);
- ``github.comment``: ``POST /repos/{owner}/{repo}/issues/{number}/comments`` ``{"body": ...}``
  (https://docs.github.com/rest/issues/comments#create-an-issue-comment). The body ends with an invisible
  HTML comment naming the action; on a redelivery ``find_effect`` lists the issue's newest comments
  (https://docs.github.com/rest/issues/comments#list-issue-comments, oldest first, so the last pages) and
  returns the earlier attempt's comment instead of posting it twice. The other three are repeatable as
  they are: a label set, an assignee set, a state.
- ``github.assign``: ``POST /repos/{owner}/{repo}/issues/{number}/assignees`` ``{"assignees": [...]}``
  (https://docs.github.com/rest/issues/assignees#add-assignees-to-an-issue); GitHub silently ignores logins
  that cannot be assigned, so the result lists who really is assigned;
- ``github.close``: ``PATCH /repos/{owner}/{repo}/issues/{number}``
  ``{"state": "closed", "state_reason": ...}`` with ``completed`` or ``not_planned`` (https://docs.github.com/rest/issues/issues#update-an-issue).

Issues and pull requests share these endpoints. A comment's text is rendered for GitHub first
(``switchboard.render.github``: no mentions, no raw HTML, links only to allowed hosts), whoever wrote it.

Every path segment is checked against GitHub's rules before it is percent-encoded (``issue_path``): an owner
is 1 to 39 letters, digits, hyphens (and the underscore of managed users' ``_shortcode``), starting with a
letter or digit; a repository name is up to 100 letters, digits, ``.``, ``-`` and ``_`` and is never ``.``
or ``..`` (https://docs.github.com/repositories/creating-and-managing-repositories/creating-a-new-repository);
a number is a positive integer. Anything else is refused (``PermanentActionError``) and nothing is sent.
"""

from __future__ import annotations

import re
from typing import Any

from switchboard import render
from switchboard.actions.http import HttpCall, HttpResult, JsonHttpClient, segment
from switchboard.errors import PermanentActionError
from switchboard.models import ActionRequest

API_VERSION = "2022-11-28"
_LAST_PAGE = re.compile(r'[?&]page=(\d+)[^>]*>;\s*rel="last"')
OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}")
REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
NUMBER = re.compile(r"[1-9][0-9]{0,18}")


def issue_path(repo: object, number: object) -> str:
    """``/repos/{owner}/{repo}/issues/{number}``, each segment validated and percent-encoded."""
    owner, slash, name = repo.partition("/") if isinstance(repo, str) else ("", "", "")
    if not slash:
        raise PermanentActionError("github", f"refused: repository {str(repo)[:80]!r} is not owner/name")
    return "/".join(
        [
            "/repos",
            segment("github", "owner", owner, OWNER),
            segment("github", "repository", name, REPOSITORY),
            "issues",
            segment("github", "number", number, NUMBER),
        ]
    )


def marker(action_id: str) -> str:
    """The invisible tail of every comment we post: how a redelivery recognises its own comment."""
    return f"<!-- switchboard:action {action_id} -->"


class GitHubExecutor:
    def __init__(
        self, base_url: str, token: str, timeout: float, *, links: render.LinkPolicy | None = None
    ) -> None:
        self.links = links or render.LinkPolicy.for_platform("github")
        self.http = JsonHttpClient(
            "github",
            base_url,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "switchboard-agent",
            },
            timeout,
        )

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def describe(self, action: ActionRequest) -> HttpCall:
        params = action.params
        issue = issue_path(params.get("repo"), params.get("number"))
        if action.ability == "github.add_labels":
            return HttpCall("POST", f"{issue}/labels", {"labels": params["labels"]})
        if action.ability == "github.comment":
            body = f"{render.github(params['body'], self.links)}\n\n{marker(action.action_id)}"
            return HttpCall("POST", f"{issue}/comments", {"body": body})
        if action.ability == "github.assign":
            return HttpCall("POST", f"{issue}/assignees", {"assignees": params["assignees"]})
        if action.ability == "github.close":
            reason = params.get("reason") or "completed"
            return HttpCall("PATCH", issue, {"state": "closed", "state_reason": reason})
        raise PermanentActionError("github", f"ability {action.ability} has no GitHub executor")

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        result = self.http.send(self.describe(action))
        return _summary(action.ability, result)

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        if action.ability != "github.comment":
            return None
        path = f"{issue_path(action.params.get('repo'), action.params.get('number'))}/comments?per_page=100"
        first = self.http.send(HttpCall("GET", path))
        pages = [first]
        last = _LAST_PAGE.search(first.headers.get("Link") or first.headers.get("link") or "")
        if last is not None and int(last.group(1)) > 1:  # ours is among the newest: the last two pages
            final = int(last.group(1))
            newest = range(max(2, final - 1), final + 1)
            pages = [self.http.send(HttpCall("GET", f"{path}&page={n}")) for n in newest]
        wanted = marker(action.action_id)
        for page in pages:
            for comment in page.body if isinstance(page.body, list) else []:
                if isinstance(comment, dict) and wanted in str(comment.get("body") or ""):
                    return _summary(action.ability, HttpResult(201, comment, {}))
        return None


def _summary(ability: str, result: HttpResult) -> dict[str, Any]:
    """What the task records of GitHub's answer: enough to check, never the whole document."""
    body = result.body if isinstance(result.body, dict) else {}
    if ability == "github.add_labels":
        labels = result.body if isinstance(result.body, list) else []
        return {
            "status": result.status,
            "labels": [label.get("name") for label in labels if isinstance(label, dict)],
        }
    if ability == "github.comment":
        return {"status": result.status, "comment_id": body.get("id"), "url": body.get("html_url")}
    if ability == "github.assign":
        assignees = body.get("assignees") or []
        return {
            "status": result.status,
            "assignees": [user.get("login") for user in assignees if isinstance(user, dict)],
        }
    return {"status": result.status, "state": body.get("state"), "state_reason": body.get("state_reason")}
