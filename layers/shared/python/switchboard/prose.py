"""What of a text is prose, as GitHub renders Markdown: the only place a command is a command.

``prose`` blanks, line for line, what a reader sees as code or as a quote. ``command_lines`` names the lines
of prose that the rules read as commands (``/word …`` on a line of its own, ``help``). Both are linear in the
text.

The sanitizer (``switchboard.sanitize.clean_text``) uses them too: cleaning can change a text's structure
(a dropped tag or zero-width character, a fullwidth backtick that NFKC makes a backtick, collapsed
indentation), so a command line of the cleaned text counts only if the text as written had the same command
line in its prose.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_QUOTE = re.compile(r"^ {0,3}>")
_INDENTED = re.compile(r"^(?: {4}| {0,3}\t)")
_BACKTICKS = re.compile(r"`+")
# a line that starts a block of its own (a list item, a heading, a thematic break) ends a quote's laziness
_BLOCK_START = re.compile(
    r"^ {0,3}(?:[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|#{1,6}(?:[ \t]|$)|(?:[*_-][ \t]*){3,}$)"
)


def prose(text: str) -> str:
    """``text`` with everything that is not prose blanked, line for line, as GitHub renders Markdown:
    fenced code blocks (``` or ~~~, to their closing fence or the end), indented code blocks, block quotes
    (with their lazy continuation lines) and inline code spans (which may run over lines). A command is a
    command only in what is left: what a person quotes or shows as code is not an order."""
    kept: list[str] = []
    fence: str | None = None
    quoted = in_paragraph = False
    for line in text.split("\n"):
        if fence is not None:
            kept.append("")
            stripped = line.strip()
            if len(line) - len(line.lstrip(" ")) <= 3 and stripped and set(stripped) == {fence[0]}:
                fence = None if len(stripped) >= len(fence) else fence
            continue
        opening = _FENCE.match(line)
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            fence, quoted, in_paragraph = opening["fence"], False, False
            kept.append("")
        elif not line.strip():
            quoted = in_paragraph = False
            kept.append("")
        elif _QUOTE.match(line) or (quoted and not _BLOCK_START.match(line)):  # a quote, or its lazy line
            quoted = True
            kept.append("")
        elif _INDENTED.match(line) and not in_paragraph:  # an indented code block
            kept.append("")
        else:  # a paragraph's line: its leading white space is not part of its text
            in_paragraph, quoted = True, False
            kept.append(line.lstrip(" \t"))
    return "\n\n".join(_without_code_spans(paragraph) for paragraph in "\n".join(kept).split("\n\n"))


def _without_code_spans(paragraph: str) -> str:
    """Blank each code span (a run of backticks up to the next run of the same length), keeping newlines."""
    if "`" not in paragraph:
        return paragraph
    runs = [(run.start(), run.end()) for run in _BACKTICKS.finditer(paragraph)]
    closer: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):  # the next run of the same length, for every run
        length = runs[index][1] - runs[index][0]
        closer[index] = last.get(length)
        last[length] = index
    parts: list[str] = []
    position = index = 0
    while index < len(runs):
        match = closer[index]
        if match is None:
            index += 1
            continue
        start, end = runs[index][0], runs[match][1]
        parts.append(paragraph[position:start])
        parts.append("".join("\n" if ch == "\n" else " " for ch in paragraph[start:end]))
        position, index = end, match + 1
    parts.append(paragraph[position:])
    return "".join(parts)


#: A line of prose that the rules may read as a command: ``/word …``, or ``help`` (``/help``, ``!help``,
#: ``@switchboard help``), compared without case.
_COMMAND = re.compile(r"/[A-Za-z]")
HELP_FORMS = frozenset({"help", "@switchboard help"})


def is_command_line(line: str) -> bool:
    line = line.strip()
    return bool(_COMMAND.match(line)) or line.lower().lstrip("/!") in HELP_FORMS


def command_lines(text: str) -> dict[int, str]:
    """The lines of ``text``'s prose that are command lines: their index → their stripped text."""
    return {
        index: line.strip() for index, line in enumerate(prose(text).split("\n")) if is_command_line(line)
    }
