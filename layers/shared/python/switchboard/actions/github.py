"""GitHub REST API executor. Paths, bodies and headers follow GitHub's documented API, so pointing the base
URL at https://api.github.com is the only change between the local sink and the real service."""

from __future__ import annotations

from typing import Any

from switchboard.actions.http import JsonHttpClient
from switchboard.errors import PermanentActionError
from switchboard.models import ActionRequest

API_VERSION = "2022-11-28"


class GitHubExecutor:
    def __init__(self, base_url: str, token: str, timeout: float) -> None:
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

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        params = action.params
        issue = f"/repos/{params['repo']}/issues/{params['number']}"
        if action.ability == "github.add_labels":
            result = self.http.call("POST", f"{issue}/labels", {"labels": params["labels"]})
            names = [label.get("name") for label in result.body or [] if isinstance(label, dict)]
            return {"status": result.status, "labels": names}
        if action.ability == "github.comment":
            result = self.http.call("POST", f"{issue}/comments", {"body": params["body"]})
            body = result.body if isinstance(result.body, dict) else {}
            return {"status": result.status, "comment_id": body.get("id"), "url": body.get("html_url")}
        raise PermanentActionError("github", f"ability {action.ability} has no GitHub executor")
