"""Sanitizing is linear in the input on adversarial markup of every kind, and the door answers such bodies at
the platforms' maximum sizes with a status from its contract (never a 5xx).

Linearity is measured as a ratio, never as an absolute time: the CPU time (``time.process_time``) of one
``clean_text`` call on 4 times the input, divided by the time on the input, must stay under ``MAX_RATIO``
(a linear cost gives about 4, a quadratic one about 16). Each time is the best of three, each measured
over enough calls to take ``FLOOR`` seconds, so a loaded machine slows both sides alike.
"""

from __future__ import annotations

import time

import pytest

from switchboard.sanitize import clean_text, strip_html
from tools.bench import hostile

BASE = 8_000
MAX_RATIO = 8.0
FLOOR = 0.01


def per_call(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        calls, started = 0, time.process_time()
        while True:
            clean_text(text)
            calls += 1
            elapsed = time.process_time() - started
            if elapsed >= FLOOR:
                break
        best = min(best, elapsed / calls)
    return best


@pytest.mark.parametrize("kind", sorted(hostile.KINDS))
def test_cleaning_time_grows_linearly_with_the_input(kind: str) -> None:
    small, large = per_call(hostile.hostile(kind, BASE)), per_call(hostile.hostile(kind, 4 * BASE))
    assert large / small < MAX_RATIO, f"{kind}: 4 times the input took {large / small:.1f} times as long"


def test_the_examples_of_the_report_are_cleaned_and_kept_as_inert_text() -> None:
    assert clean_text("<a " * 3, limit=100) == "< a < a < a"
    assert clean_text("&#" + "9" * 5_000 + ";") == "\ufffd"  # no 4,300-digit int() on the way
    assert strip_html("<script>" + "<a " * 10) == ""  # a script without its end runs to the end


def test_a_run_of_combining_marks_is_cut_to_the_stream_safe_bound() -> None:
    cleaned = clean_text("a" + "\u0316\u0301" * 100)
    assert 1 < len(cleaned) <= 31


@pytest.mark.parametrize("platform", ["github", "slack", "standard"])
def test_the_door_accepts_hostile_bodies_at_the_platforms_maximum_sizes(platform: str) -> None:
    for kind in hostile.KINDS:
        text = (
            hostile.standard_text(kind)
            if platform == "standard"
            else hostile.hostile(kind, {"github": hostile.GITHUB_COMMENT_CHARS, "slack": 40_000}[platform])
        )
        answer = hostile.door_request(platform, text)()
        # 413: the JSON escapes of control characters (six bytes each) take the body over 256 KiB
        assert answer.status in {202, 413}, (kind, answer)
