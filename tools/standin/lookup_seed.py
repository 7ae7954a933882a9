"""Seeded records for the plans' lookups: what the recording sink's GitHub search, tickets search and get
answer with (and what the unit tests' in-memory lookups read). A ticket about login timeouts; an existing
issue that a new bug report about large uploads duplicates."""

from __future__ import annotations

from typing import Any, Final

SEED_REPO: Final = "octo-org/demo"
DUPLICATE_NUMBER: Final = 900

TICKETS: Final[list[dict[str, Any]]] = [
    {
        "id": "TCK-42",
        "title": "Login timeouts and slow logins on the web app",
        "status": "in_progress",
        "body": "SSO logins time out after 30 s for some users; a fix for the session store is being tested.",
        "updated_at": "2026-11-30T16:20:00Z",
    },
    {
        "id": "TCK-7",
        "title": "Invoice PDF shows the wrong currency",
        "status": "resolved",
        "body": "Fixed in release 2.3.1.",
        "updated_at": "2026-11-02T09:00:00Z",
    },
]

ISSUES: Final[list[dict[str, Any]]] = [
    {
        "repo": SEED_REPO,
        "number": DUPLICATE_NUMBER,
        "title": "App crashes when uploading a file larger than 2 GB",
        "state": "open",
        "body": "Uploading any file over 2 GB crashes the app with an out-of-memory error.",
        "labels": ["bug"],
    },
]


def matches(query: str, *texts: str) -> int:
    """How many of the query's words (3+ letters) appear in the texts (a word matches its longer forms)."""
    haystack = " ".join(texts).lower()
    words = [word for word in query.lower().split() if len(word) > 2]
    return sum(word.rstrip("s") in haystack for word in words)


def search_tickets(query: str) -> list[dict[str, Any]]:
    words = [word for word in query.lower().split() if len(word) > 2]
    found = [t for t in TICKETS if words and matches(query, t["title"], t["body"]) == len(words)]
    return found


def search_issues(repo: str, query: str) -> list[dict[str, Any]]:
    scored = [(matches(query, i["title"], i["body"]), i) for i in ISSUES if i["repo"].lower() == repo.lower()]
    return [issue for score, issue in sorted(scored, key=lambda pair: -pair[0]) if score >= 2]


def ticket(ticket_id: str) -> dict[str, Any] | None:
    return next((t for t in TICKETS if t["id"] == ticket_id), None)


def issue_fields(owner: str, repo: str, number: int) -> dict[str, Any]:
    """The seeded fields of an issue (title, body, labels as GitHub shapes them), or nothing."""
    for issue in ISSUES:
        if issue["repo"].lower() == f"{owner}/{repo}".lower() and issue["number"] == number:
            labels = [{"name": name, "color": "d73a4a", "default": False} for name in issue["labels"]]
            return {"title": issue["title"], "body": issue["body"], "state": issue["state"], "labels": labels}
    return {}


def github_search(base_url: str, authorization: str | None, query: str) -> Any:
    """``GET /search/issues`` as GitHub answers it ("Search issues and pull requests",
    https://docs.github.com/rest/search/search): ``q`` holds the words and ``repo:owner/name``."""
    from urllib.parse import parse_qs

    from tools.standin.sink import Reply

    if not authorization:
        return Reply(401, {"message": "Requires authentication"})
    q = (parse_qs(query).get("q") or [""])[0]
    repo = next((part.split(":", 1)[1] for part in q.split() if part.startswith("repo:")), "")
    words = " ".join(part for part in q.split() if ":" not in part)
    items = [
        {
            "number": issue["number"],
            "title": issue["title"],
            "state": issue["state"],
            "body": issue["body"],
            "html_url": f"https://github.com/{issue['repo']}/issues/{issue['number']}",
            "url": f"{base_url}/github/repos/{issue['repo']}/issues/{issue['number']}",
            "labels": [{"name": name} for name in issue["labels"]],
        }
        for issue in search_issues(repo, words)
    ]
    return Reply(200, {"total_count": len(items), "incomplete_results": False, "items": items})
