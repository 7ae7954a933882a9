from __future__ import annotations

import os
import subprocess
import sys

import pytest

from switchboard.sanitize import clean_field, clean_text, extract_links
from tests.conftest import ROOT


def test_scripts_and_tags_are_stripped_with_their_contents() -> None:
    assert clean_text("hi <script>alert(1)</script><b>there</b>") == "hi there"


def test_entities_are_decoded_once_and_the_markup_they_reveal_stays_inert() -> None:
    assert clean_text("a &amp; b &lt;tag&gt;") == "a & b < tag>"
    assert clean_text("&amp;lt;tag&amp;gt;") == "& lt;tag& gt;"


def test_control_and_zero_width_characters_are_dropped() -> None:
    assert clean_text("ab\x00c\u200bd\u202e\x1b[31m") == "abcd[31m"


def test_text_is_capped() -> None:
    assert len(clean_text("x" * 10_000, limit=100)) == 100


@pytest.mark.parametrize("value", ["null", "undefined", "None", " NULL ", "", None, 3.5j])
def test_nullish_fields_are_missing(value: object) -> None:
    assert clean_field(value) is None


def test_numbers_become_strings_and_booleans_do_not() -> None:
    assert clean_field(42) == "42"
    assert clean_field(True) is None


def test_links_are_extracted_once_each() -> None:
    text = "see https://example.com/a and https://example.com/a, also http://x.org/b)"
    assert extract_links(text) == ["https://example.com/a", "https://example.com/a,", "http://x.org/b"]


_HTML_ON_DEMAND = """
import sys
from switchboard.sanitize import clean_text

plain = clean_text("/label bug <b>now</b>")
before = "html" in sys.modules
decoded = clean_text("fish &amp; chips")
print(plain, "|", before, "|", decoded, "|", "html" in sys.modules)
"""


def test_html_is_imported_by_the_first_text_with_a_character_reference() -> None:
    """`html`'s entity tables load on demand: a delivery without a reference does not pay for them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers/shared/python")}
    result = subprocess.run(
        [sys.executable, "-c", _HTML_ON_DEMAND], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "/label bug now | False | fish & chips | True"
