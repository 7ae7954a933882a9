"""Text hygiene at the door (and again before any LLM call).

Strip HTML and scripts, drop control characters, cap lengths, and treat the literal strings that spammers use
to reach unhandled branches ("null", "undefined", "None") as missing.

``clean_text`` is idempotent: cleaning clean text changes nothing. Entities are decoded once; markup that the
decoding reveals (``&lt;script&gt;``) or that the parser leaves behind (an unterminated ``<script`` at the
end) is made inert (``< script``) instead of being decoded or stripped again on the next pass.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

NULLISH = frozenset({"null", "undefined", "none", "nil", "nan"})
TEXT_LIMIT = 8_000
FIELD_LIMIT = 256

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# What the HTML tokenizer reads as the start of a tag, an end tag, a declaration or a comment.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
# The character-reference pattern ``html.unescape`` (and so HTMLParser) decodes.
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


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
    try:
        parser.feed(text)
        parser.close()
    except AssertionError:
        # CPython's HTMLParser asserts on some malformed markup ("<![ " on 3.11, python/cpython#77057;
        # "<ª" on 3.13, python/cpython#140877). Such text is not HTML: decode its entities and let
        # ``defang`` make any tag in it inert.
        return html.unescape(text)
    return "".join(parser.parts)


def defang(text: str) -> str:
    """Make leftover markup inert, so neither an HTML parser nor a second cleaning pass sees any.

    ``<script`` becomes ``< script``; a character reference that decoding revealed (``&amp;lt;`` → ``&lt;``)
    becomes ``& lt;``. An ampersand that decodes to nothing (``AT&T``) is left alone.
    """
    text = _TAG_OPEN.sub("< ", text)
    return _CHARREF.sub(lambda ref: ref[0] if html.unescape(ref[0]) == ref[0] else "& " + ref[1], text)


def drop_control_chars(text: str) -> str:
    """Remove C0/C1 controls and format characters (zero-width, bidi overrides), keep newlines and tabs."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def clean_text(value: object, limit: int = TEXT_LIMIT) -> str:
    """The full treatment for free text a person wrote: at most ``limit`` characters, never nullish."""
    if not isinstance(value, str):
        return ""
    text = unicodedata.normalize("NFKC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = drop_control_chars(strip_html(text))
    # again: decoding and dropping can form new sequences (a decoded fullwidth "<", "e" + ZWJ + accent)
    text = defang(unicodedata.normalize("NFKC", text))
    text = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()
    text = text[:limit].rstrip()
    return "" if is_nullish(text) else text


def clean_field(value: object, limit: int = FIELD_LIMIT) -> str | None:
    """For a field we act on (author, channel …): None when missing or nullish, cut to ``limit``."""
    text = _scalar(value)
    if text is None:
        return None
    text = text[:limit].rstrip()
    return None if is_nullish(text) else text


def clean_id(value: object, limit: int = FIELD_LIMIT) -> str | None:
    """For an identifier (delivery id, repository, channel, ts …): like ``clean_field``, but an id longer than
    ``limit`` is missing rather than cut short, because a truncated id names something else."""
    text = _scalar(value)
    return text if text is not None and len(text) <= limit else None


def _scalar(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = drop_control_chars(value).strip()
    return None if not text or is_nullish(text) else text


def is_nullish(value: str) -> bool:
    return value.strip().lower() in NULLISH


def extract_links(text: str, limit: int = 20) -> list[str]:
    return list(dict.fromkeys(_URL.findall(text)))[:limit]
