"""Text hygiene at the door (and again before any LLM call).

Strip HTML and scripts, drop control characters, cap lengths, and treat the literal strings that spammers use
to reach unhandled branches ("null", "undefined", "None") as missing.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

NULLISH = frozenset({"null", "undefined", "none", "nil", "nan"})
TEXT_LIMIT = 8_000
FIELD_LIMIT = 256

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextOnly(HTMLParser):
    """Keeps text, drops tags, and drops the contents of script/style/template elements entirely."""

    _SKIP = frozenset({"script", "style", "template", "iframe", "object", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in {"br", "p", "div", "li"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def drop_control_chars(text: str) -> str:
    """Remove C0/C1 controls and format characters (zero-width, bidi overrides), keep newlines and tabs."""
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )


def clean_text(value: object, limit: int = TEXT_LIMIT) -> str:
    """The full treatment for free text a person wrote."""
    if not isinstance(value, str) or is_nullish(value):
        return ""
    text = unicodedata.normalize("NFKC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = drop_control_chars(strip_html(text))
    text = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()
    return text[:limit]


def clean_field(value: object, limit: int = FIELD_LIMIT) -> str | None:
    """For a field we act on (author, repository, channel …): None when missing or nullish."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = drop_control_chars(value).strip()
    if not text or is_nullish(text):
        return None
    return text[:limit]


def is_nullish(value: str) -> bool:
    return value.strip().lower() in NULLISH


def extract_links(text: str, limit: int = 20) -> list[str]:
    return list(dict.fromkeys(_URL.findall(text)))[:limit]
