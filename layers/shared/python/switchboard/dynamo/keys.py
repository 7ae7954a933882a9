"""Every key format of the two tables, and their index names: the one place that spells them.

The tasks table (partition ``pk`` only): ``task#{task_id}``, each task named by its logical event
(``InboundEvent.task_id``), so that its conditional put is the event's claim; one index, the sparse
``by-attention`` (``attention`` + ``updated_at``: only tasks that need a person, or whose plan runs, carry
``attention``). No index by delivery id: ``TaskStore.find_by_event`` is an operator's command.

The memory table (partition ``pk``, sort ``sk``), one item kind per row:

=================================================  ==================  ======================================
``pk``                                             ``sk``              what
=================================================  ==================  ======================================
``seen#{platform}#{event_id}``                     ``seen``            the door enqueued this delivery
``processed#{platform}#{event_id}``                ``claim``           an earlier version's claim (read-only)
``content#{platform}#{content_id}``                ``claim``           ... and its content claim (read-only)
``author#{platform}#{author}``                     ``profile``         flags, and requests per rate window
``rate#{platform}-acts#{author}``                  ``w#{start}``       acting actions in one rate window
``budget#task#{task_id}``                          ``budget``          LLM tokens spent by one task
``budget#day#{YYYY-MM-DD}``                        ``budget``          LLM micro-dollars spent in one UTC day
``llmcache#{sha256}``                              ``llmcache``        a cached tool call
``breaker#{service}``                              ``breaker``         one service's circuit breaker
``cursor#{feed}``                                  ``cursor``          a polled feed's cursor
``triage#{YYYY-MM-DD}``                            ``{at}``            one DLQ triage report
``heartbeat#{stage}``                              ``heartbeat``       when a stage last finished work
=================================================  ==================  ======================================

The two ``claim`` kinds were written before 2026-12-03, with the task in one transaction; nothing writes them
now, and they expire 14 days after they were written (``TaskStore.earlier_claim`` reads them for a redelivered
message, ``DynamoSeenLog.claimed`` for the door).

Powertools idempotency also writes to the memory table for act-tickets' follow-up attempts (``pk`` = function
name + hashed key, ``sk`` unused); Powertools owns that format (``functions/act/compose.py``). An action's own
idempotency record is on its task item (``switchboard.dynamo.idempotency``; the stored form in
``switchboard.state``), and rows an earlier version wrote for actions expire with their TTL.
"""

from __future__ import annotations

from typing import Final

Key = dict[str, dict[str, str]]

TASKS_BY_ATTENTION_INDEX: Final = "by-attention"


#: Between a report's ``at`` and a chunk's number in the chunk's sort key.
TRIAGE_CHUNK_MARK = "#chunk#"


def _key(pk: str, sk: str) -> Key:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class Keys:
    """The key of each item kind (DynamoDB's attribute-value form, ready for ``Key=`` or an ``Item``)."""

    @staticmethod
    def task(task_id: str) -> Key:
        return {"pk": {"S": f"task#{task_id}"}}

    @staticmethod
    def task_id_of(pk: str) -> str:
        """The task id in a task item's ``pk`` (``task``'s inverse: the item does not store it twice)."""
        return pk.removeprefix("task#")

    @staticmethod
    def heartbeat(stage: str) -> Key:
        return _key(f"heartbeat#{stage}", "heartbeat")

    @staticmethod
    def seen(platform: str, event_id: str) -> Key:
        return _key(f"seen#{platform}#{event_id}", "seen")

    @staticmethod
    def claim(platform: str, event_id: str) -> Key:
        return _key(f"processed#{platform}#{event_id}", "claim")

    @staticmethod
    def content_claim(platform: str, content_id: str) -> Key:
        """The claim's second key: the logical event (``InboundEvent.content_id``), whatever delivery id
        carried it, so a redelivery under a new id is a duplicate too."""
        return _key(f"content#{platform}#{content_id}", "claim")

    @staticmethod
    def profile(platform: str, author: str) -> Key:
        return _key(f"author#{platform}#{author}", "profile")

    @staticmethod
    def rate_window(platform: str, author: str, start: int) -> Key:
        return _key(f"rate#{platform}#{author}", f"w#{start}")

    @staticmethod
    def task_budget(task_id: str) -> Key:
        return _key(f"budget#task#{task_id}", "budget")

    @staticmethod
    def day_budget(day: str) -> Key:
        return _key(f"budget#day#{day}", "budget")

    @staticmethod
    def llm_cache(key: str) -> Key:
        return _key(f"llmcache#{key}", "llmcache")

    @staticmethod
    def breaker(service: str) -> Key:
        return _key(f"breaker#{service}", "breaker")

    @staticmethod
    def cursor(feed: str) -> Key:
        return _key(f"cursor#{feed}", "cursor")

    @staticmethod
    def triage_reports(day: str) -> str:
        """The partition of one UTC day's triage reports (``at`` sorts them)."""
        return f"triage#{day}"

    @staticmethod
    def triage_report(day: str, at: str) -> Key:
        """A report's manifest: its summary and how many chunks hold its messages."""
        return _key(Keys.triage_reports(day), at)

    @staticmethod
    def triage_report_chunk(day: str, at: str, index: int) -> Key:
        """One chunk of a report's messages; sorts right after its manifest and before the next report."""
        return _key(Keys.triage_reports(day), f"{at}{TRIAGE_CHUNK_MARK}{index:05d}")
