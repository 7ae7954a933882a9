"""The tickets API executor, for a tracker behind a configured HTTP endpoint.

- ``tickets.create``: ``POST /tickets`` ``{"title", "body", "source", "reporter"}`` with the action id as
  ``Idempotency-Key``, so a retried call never opens a second ticket. The answer is
  ``{"id", "status", "url"}``; the public ``url`` usually appears only later, which is why the act layer
  stages a follow-up;
- the follow-up reads ``GET /tickets/{id}``;
- the fallback lookup, when the reads run out, is ``GET /tickets?idempotency_key=<action id>``: the tracker's
  search by the key we created the ticket with, answering ``{"tickets": [{"id", "status", "url"}]}``.

A ticket id comes from the tracker's answer, so it is checked before it becomes a path segment: up to 128
letters, digits and ``_ . ~ : -``, starting with a letter, a digit or ``_`` (never ``.`` or ``..``), and
percent-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from switchboard.actions.http import HttpCall, HttpResult, JsonHttpClient, segment
from switchboard.errors import PermanentActionError
from switchboard.models import ActionRequest

TICKET_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.~:-]{0,127}")


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    status: str | None
    url: str | None

    @classmethod
    def from_document(cls, document: Any, fallback_id: str) -> TicketView:
        body = document if isinstance(document, dict) else {}
        url = body.get("url")
        return cls(
            ticket_id=str(body.get("id") or fallback_id),
            status=body.get("status"),
            url=url if isinstance(url, str) and url.startswith(("https://", "http://")) else None,
        )


class TicketsExecutor:
    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self.http = JsonHttpClient(
            "tickets",
            base_url,
            {"Authorization": f"Bearer {token}", "User-Agent": "switchboard-agent"},
            timeout,
        )

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def describe(self, action: ActionRequest) -> HttpCall:
        if action.ability != "tickets.create":
            raise PermanentActionError("tickets", f"ability {action.ability} has no tickets executor")
        p = action.params
        return HttpCall(
            "POST",
            "/tickets",
            {"title": p["title"], "body": p["body"], "source": p["source"], "reporter": p["reporter"]},
            {"Idempotency-Key": action.action_id},
        )

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        result: HttpResult = self.http.send(self.describe(action))
        body = result.body if isinstance(result.body, dict) else {}
        return {"status": result.status, "ticket_id": body.get("id"), "url": body.get("url")}

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        return None  # the Idempotency-Key makes the tracker answer a repeated create with the first ticket

    @staticmethod
    def read_call(ticket_id: str) -> HttpCall:
        return HttpCall("GET", f"/tickets/{segment('tickets', 'ticket id', ticket_id, TICKET_ID)}")

    def read(self, ticket_id: str) -> TicketView:
        """The ticket as the tracker shows it now."""
        return TicketView.from_document(self.http.send(self.read_call(ticket_id)).body, ticket_id)

    def lookup(self, idempotency_key: str, ticket_id: str) -> TicketView | None:
        """The fallback: search the tracker by the key the ticket was created with."""
        result = self.http.send(
            HttpCall("GET", "/tickets?" + urlencode({"idempotency_key": idempotency_key}))
        )
        found = result.body.get("tickets") if isinstance(result.body, dict) else result.body
        views = [
            TicketView.from_document(entry, ticket_id) for entry in found or [] if isinstance(entry, dict)
        ]
        return next((view for view in views if view.ticket_id == ticket_id), views[0] if views else None)
