"""Text hygiene at the door (and again before any LLM call).

Strip HTML and scripts, drop control characters, cap lengths, and treat the literal strings that spammers use
to reach unhandled branches ("null", "undefined", "None") as missing.

``clean_text`` is idempotent: cleaning clean text changes nothing. Entities are decoded once; markup that the
decoding reveals (``&lt;script&gt;``) or that the tokenizer leaves behind (an unterminated ``<script`` at the
end) is made inert (``< script``) instead of being decoded or stripped again on the next pass.

Every step is linear in the input, whatever the markup (``tests/unit/test_sanitize_linear.py``,
``make bench``): a hostile body of 256 KiB is cleaned well inside the ingest function's deadline.

- The tokenizer (``strip_html``) reads the text once, left to right. Each construct ends at its terminator
  (``>``, ``-->``, ``]]>``, ``</script``); the search for a terminator is remembered (``_Finder``), so a flood
  of unterminated openers (``"<a " * 21845``) costs one search, not one per opener. An opener without a
  terminator is text (made inert by ``defang``), except ``<script>``/``<style>`` without an end tag, whose
  content is dropped to the end, as a browser would.
- Character references are decoded one by one with their digits bounded (``&#`` and 5,000 nines is U+FFFD,
  not a 4,300-digit integer conversion that raises).
- Unicode normalization reorders combining marks by sorting, which is quadratic in the length of a run of
  them. Before each normalization a run is cut to 30 marks, the bound of Unicode's Stream-Safe Text Format
  (UAX #15, section 13), so the sort only ever sees short runs.
"""

from __future__ import annotations

import re
import unicodedata

from switchboard import fields
from switchboard.prose import command_lines, prose

NULLISH = frozenset({"null", "undefined", "none", "nil", "nan"})
TEXT_LIMIT = fields.EVENT_TEXT_LIMIT
FIELD_LIMIT = fields.FIELD_LIMIT

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# What the HTML tokenizer reads as the start of a tag, an end tag, a declaration or a comment.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
# The character-reference pattern ``html.unescape`` decodes.
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

# -- the tokenizer -------------------------------------------------------------------------------------------

_RAW_TEXT = frozenset({"script", "style"})  # content is not markup: it ends only at its own end tag
_SKIP = frozenset({"template", "iframe", "object", "noscript"})  # elements whose content is dropped
_BREAKS = frozenset({"br", "p", "div", "li"})
# Elements whose content a reader sees as code or as a quote, as GitHub renders them (github/markup: the HTML
# is sanitized to an allow-list, which keeps pre, code, tt, kbd, samp, blockquote, q, details): their content
# is kept, each of its lines quoted (``> ``), so that no command is read in it. ``<details>`` is not among
# them: GitHub renders its content as Markdown, prose that is shown when it is opened.
_QUOTING = frozenset({"pre", "code", "tt", "kbd", "samp", "blockquote", "q"})
_QUOTE_MARK = "> "
_NAME = re.compile(r"[^\t\n\f\r />]{0,16}")  # enough of a tag's name to know the ones above
_GT = re.compile(">")
_COMMENT_END = re.compile(r"--!?>")
_CDATA_END = re.compile(r"\]\]>")


class _Finder:
    """Where the first match of ``pattern`` at or after a position ends, remembered: when the last search
    started at or before ``start`` and found nothing, or found a match starting at or after ``start``, that is
    the answer again. The positions asked for only grow, so all the searches together read the text about
    once."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text = text
        self.pattern = pattern
        self.searched_from = -1
        self.found: re.Match[str] | None = None

    def end(self, start: int) -> int | None:
        known = 0 <= self.searched_from <= start
        if not (known and (self.found is None or self.found.start() >= start)):
            self.found = self.pattern.search(self.text, start)
            self.searched_from = start
        return None if self.found is None else self.found.end()


class _Parts:
    """The output of ``strip_html``: pieces of text, with the content of ``_QUOTING`` elements quoted line for
    line. Whether the current line holds visible text yet is found lazily (each piece is read once), so
    entering a quoting element mid-line adds no mark and entering it at a line's start adds one."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.quoting = 0
        self._read = 0
        self._visible = False

    def add(self, piece: str) -> None:
        if self.quoting:
            piece = piece.replace("\n", "\n" + _QUOTE_MARK)
        self.pieces.append(piece)

    def enter_quote(self) -> None:
        if not self.quoting and not self._line_has_text():
            self.pieces.append(_QUOTE_MARK)
        self.quoting += 1

    def leave_quote(self) -> None:
        self.quoting -= 1 if self.quoting else 0

    def _line_has_text(self) -> bool:
        for piece in self.pieces[self._read :]:
            newline = piece.rfind("\n")
            tail = piece if newline < 0 else piece[newline + 1 :]
            self._visible = (self._visible and newline < 0) or any(_is_visible(ch) for ch in tail)
        self._read = len(self.pieces)
        return self._visible

    def text(self) -> str:
        return "".join(self.pieces)


def _is_visible(ch: str) -> bool:
    """Whether ``ch`` is still there, and not white space, once cleaning is done."""
    return not ch.isspace() and unicodedata.category(ch) not in _DROPPED_CATEGORIES


def strip_html(text: str) -> str:
    """The text of ``text`` read as HTML: tags, comments and declarations dropped, the contents of scripts,
    styles and the ``_SKIP`` elements dropped, the contents of ``_QUOTING`` elements quoted, character
    references decoded."""
    if "<" not in text and "&" not in text:
        return text
    parts = _Parts()
    gt = _Finder(text, _GT)
    comment_end = _Finder(text, _COMMENT_END)
    cdata_end = _Finder(text, _CDATA_END)
    raw_ends: dict[str, _Finder] = {}
    skipping = 0
    position, size = 0, len(text)
    while position < size:
        opener = text.find("<", position)
        if opener < 0:
            opener = size
        if opener > position and not skipping:
            parts.add(decode_references(text[position:opener]))
        if opener >= size:
            break
        after = opener + 1
        following = text[after : after + 1]
        end: int | None = None
        if text.startswith("!--", after):
            for empty in ("!-->", "!--->"):  # "<!-->" and "<!--->" are (empty) comments too
                if text.startswith(empty, after):
                    end = after + len(empty)
            end = end or comment_end.end(after + 3)
        elif text.startswith("![CDATA[", after):
            end = cdata_end.end(after + 8)
        elif following in ("!", "?"):
            end = gt.end(after)
        elif following == "/" or (following.isascii() and following.isalpha()):
            end = gt.end(after)
            closing = following == "/"
            name = _NAME.match(text, after + closing)[0].lower()  # type: ignore[index]
            if end is not None and closing:
                skipping -= 1 if name in _SKIP and skipping else 0
                if name in _QUOTING and not skipping:
                    parts.leave_quote()
            elif end is not None and name in _RAW_TEXT:
                finder = raw_ends.setdefault(
                    name, _Finder(text, re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE))
                )
                end_tag = finder.end(end)
                # no end tag: the rest is the script's (a browser runs it to the end of the document)
                position = size if end_tag is None else gt.end(end_tag) or size
                continue
            elif end is not None and name in _SKIP:
                skipping += 1
            elif end is not None and name in _QUOTING and not skipping:
                parts.enter_quote()
            if end is not None and not closing and name in _BREAKS and not skipping:
                parts.add("\n")
        if end is None:  # no terminator: not markup, just a "<" (``defang`` makes it inert)
            if not skipping:
                parts.add("<")
            position = after
        else:
            position = end
    return parts.text()


def decode_references(text: str) -> str:
    """``html.unescape``, one reference at a time, with the digits of a numeric reference bounded."""
    if "&" not in text:
        return text
    return _CHARREF.sub(_decoded, text)


def _decoded(reference: re.Match[str]) -> str:
    # Imported here, by the first text that has a reference: its entity tables were about 1 ms of the ingest
    # function's cold start, which a delivery without a reference does not need.
    import html

    body = reference[1]
    if body[0] == "#":
        digits = (body[2:] if body[1:2] in ("x", "X") else body[1:]).rstrip(";").lstrip("0")
        if len(digits) > 8:  # past U+10FFFF in either base: what html.unescape answers, without the int()
            return "\ufffd"
    return html.unescape(reference[0])


def defang(text: str) -> str:
    """Make leftover markup inert, so neither an HTML parser nor a second cleaning pass sees any.

    ``<script`` becomes ``< script``; a character reference that decoding revealed (``&amp;lt;`` → ``&lt;``)
    becomes ``& lt;``. An ampersand that decodes to nothing (``AT&T``) is left alone.
    """
    text = _TAG_OPEN.sub("< ", text)
    return _CHARREF.sub(lambda ref: ref[0] if _decoded(ref) == ref[0] else "& " + ref[1], text)


# -- Unicode -------------------------------------------------------------------------------------------------

#: UAX #15's bound on a run of non-starters in Stream-Safe Text.
MAX_NON_STARTERS = 30
# Only a run of more than 30 non-ASCII characters can hold more than 30 non-starters.
_LONG_NON_ASCII = re.compile(rf"[^\x00-\x7f]{{{MAX_NON_STARTERS + 1},}}")
# Characters of combining class 0 whose decomposition starts with a non-starter (UAX #15, table 8).
_NON_STARTER_DECOMPOSITIONS = frozenset("\u0344\u0f73\u0f75\u0f81")


def stream_safe(text: str) -> str:
    """``text`` with every run of non-starters (combining marks) cut to ``MAX_NON_STARTERS``."""
    if text.isascii():
        return text
    return _LONG_NON_ASCII.sub(lambda run: _cut_runs(run[0]), text)


def _cut_runs(run: str) -> str:
    kept: list[str] = []
    marks = 0
    for ch in run:
        if unicodedata.combining(ch) or ch in _NON_STARTER_DECOMPOSITIONS:
            marks += 1
            if marks > MAX_NON_STARTERS:
                continue
        else:
            marks = 0
        kept.append(ch)
    return "".join(kept)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", stream_safe(text))


def drop_control_chars(text: str) -> str:
    """Remove C0/C1 controls and format characters (zero-width, bidi overrides), keep newlines and tabs."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def clean_text(value: object, limit: int = TEXT_LIMIT) -> str:
    """The full treatment for free text a person wrote: at most ``limit`` characters, never nullish."""
    if not isinstance(value, str):
        return ""
    written = value.replace("\r\n", "\n").replace("\r", "\n")
    text = commands_as_written(written, _clean(nfkc(value)))
    text = text[:limit].rstrip()
    return "" if is_nullish(text) else text


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = drop_control_chars(strip_html(text))
    # again: decoding and dropping can form new sequences (a decoded fullwidth "<", "e" + ZWJ + accent)
    text = defang(nfkc(text))
    return _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()


# A line as written that may clean to a command line: it holds a "/", or what cleaning decodes or drops
# (a reference, a tag, a control or non-ASCII character), or "help".
_MAY_COMMAND = re.compile(r"[/&<\x00-\x08\x0b-\x1f\x7f]|[^\x00-\x7f]|help", re.IGNORECASE)


def commands_as_written(written: str, cleaned: str) -> str:
    """``cleaned`` with each command line that the text as written did not have in its prose quoted.

    Cleaning changes what a line is in Markdown: a dropped tag or zero-width character after a fence, or a
    fullwidth backtick that NFKC turns into a backtick, can close a code block early; a dropped tag can end a
    quote with a blank line; collapsed spaces turn an indented code block into a paragraph. So a command line
    of the cleaned text's prose stays a command only if a line of the written text's prose cleans to it."""
    found = command_lines(cleaned)
    if not found:
        return cleaned
    as_written = {
        _clean(nfkc(line))
        for line in prose(written).split("\n")
        if line.strip() and _MAY_COMMAND.search(line)
    }
    lines = cleaned.split("\n")
    for index, line in found.items():
        if line not in as_written:
            lines[index] = _QUOTE_MARK + lines[index].lstrip()
    return "\n".join(lines)


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
