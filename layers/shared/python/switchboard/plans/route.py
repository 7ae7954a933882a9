"""Which requests plan: deterministic, no model call, and light to import (classify asks it too).

Multi-step requests plan: a question about a ticket's status (it needs a lookup before any answer), a GitHub
report that asks whether it is a known issue or a duplicate (search, read, link, label), a GitHub request to
close the issue (a person decides first), and a new GitHub issue that reads as a bug report: a bug report is
where a duplicate shows up, and only a search can tell, so the plan searches first, then links and labels
the duplicate, or triages the bug as the direct action does (its fallback step). A bug report in a comment
is on an issue that exists already: it keeps the direct action. Everything else keeps the single-step
decision.
"""

from __future__ import annotations

import re

from switchboard.models import DecideRequest, InboundEvent, Platform

_STATUS = re.compile(r"\bstatus\b", re.IGNORECASE)
_TICKET = re.compile(r"\btickets?\b", re.IGNORECASE)
_DUPLICATE = re.compile(r"\b(?:known issue|duplicates?|already reported|same (?:bug|problem|issue))\b", re.I)
_CLOSE = re.compile(r"\bclose (?:this|it|the issue)\b", re.IGNORECASE)
NEW_ISSUE = "issues.opened"


def plans_first(event: InboundEvent, intent: str) -> str | None:
    """Why an intent that classify would act on directly plans instead (classify sends it to decide)."""
    if event.platform is Platform.GITHUB and event.event_type == NEW_ISSUE and intent == "bug_report":
        return "a new bug report: look for the issue it duplicates first"
    return None


def wants_plan(request: DecideRequest) -> str | None:
    """Why this request needs a plan, or None for the single-step path."""
    event, text = request.event, request.event.text
    if _STATUS.search(text) and _TICKET.search(text):
        return "a question about a ticket: look it up first"
    if (why := plans_first(event, request.intent)) is not None:
        return why
    if event.platform is Platform.GITHUB and _DUPLICATE.search(text):
        return "a possible duplicate: search the issues first"
    if event.platform is Platform.GITHUB and _CLOSE.search(text):
        return "closing an issue: a person decides first"
    return None
