"""Commands count only in prose, as GitHub renders what a person wrote: not inside HTML ``<pre>``, ``<code>``,
``<blockquote>`` (and the other code and quote elements), and not where the sanitizer's own changes (a dropped
tag or zero-width character, a fullwidth backtick that NFKC makes a backtick, collapsed indentation) would
turn code or a quote into prose. ``<details>`` content is prose: GitHub renders it as Markdown.

The oracle is a CommonMark parser (markdown-it, HTML enabled) reading the text as written; ours reads the text
the door hands on (``clean_text``), with the rules' own ``prose``."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.rules import Act, NeedsClassification, default_chain, prose
from switchboard.sanitize import clean_text
from tests.fakes import FakeAuthorMemory, github_event

markdown_it = pytest.importorskip("markdown_it")

COMMAND = re.compile(r"/label (bug\d+)")
QUOTING_TAG = re.compile(r"<(/?)(pre|code|tt|kbd|samp|blockquote|q)(?=[\s/>])[^>]*>", re.IGNORECASE)
ANY_TAG = re.compile(r"<[^>]*>")

#: blocks a reader sees as they are: what is prose here is prose to the sanitizer too
FAITHFUL = [
    "{cmd}",
    "text before\n{cmd}",
    "```\n{cmd}\n```",
    "~~~\n{cmd}\n~~~",
    "> {cmd}",
    "`{cmd}`",
    "<pre>{cmd}</pre>",
    "<pre>\n{cmd}\n</pre>",
    "<PRE lang='sh'>\nls\n{cmd}\n</PRE>",
    "<code>{cmd}</code>",
    "x <code>\n{cmd}</code>",
    "<kbd>{cmd}</kbd>",
    "<samp>{cmd}</samp>",
    "<tt>{cmd}</tt>",
    "<q>{cmd}</q>",
    "<blockquote>{cmd}</blockquote>",
    "<blockquote>\n\n{cmd}\n\n</blockquote>",
    "<blockquote><p>\n{cmd}</p></blockquote>",
    "<details>\n\n{cmd}\n\n</details>",
    "<details><summary>logs</summary>\n\n{cmd}\n\n</details>",
    "<b>{cmd}</b>",
    "plain words",
]
#: blocks whose structure cleaning changes: the sanitizer must not make their code or quote prose
MANGLED = [
    "    {cmd}",
    "text\n\n    {cmd}",
    "\t{cmd}",
    "```\nx\n\uff40\uff40\uff40\n{cmd}\n```",  # fullwidth backticks: NFKC makes them a closing fence
    "```\nx\n```\u200b\n{cmd}\n```",  # a zero-width space after a fence: dropped, the fence closes
    "```\nx\n```<b>\n\n{cmd}\n```",  # a tag after a fence: dropped, the fence closes
    "~~~\nx\n~~~<!-- -->\n{cmd}\n~~~",
    "> q\n<b></b>\n{cmd}",  # a lazy line of the quote: the dropped tag would leave a blank line
    "> q\n<i>\u200b</i>\n{cmd}",
    "> q\n<!-- -->\n{cmd}",  # a comment is an HTML block that ends the quote: prose, which we miss (safe)
    "<pre>\n<!-- </pre> -->\n{cmd}\n</pre>",
    "```\n<pre>\n```\n{cmd}",
    "```\n<pre>{cmd}</pre>\n```",
]


def commands_by_commonmark(document: str) -> set[str]:
    """The commands a reader sees in prose: at the start of a line of a paragraph (inline tags aside), or of a
    raw HTML block's text, outside any block quote and any open code or quote element."""
    found: set[str] = set()
    quotes = depth = 0

    def html(content: str) -> None:
        nonlocal depth
        for tag in QUOTING_TAG.finditer(content):
            depth = max(0, depth - 1) if tag[1] else depth + 1

    for token in markdown_it.MarkdownIt("commonmark").parse(document):
        quotes += {"blockquote_open": 1, "blockquote_close": -1}.get(token.type, 0)
        if token.type == "html_block":
            for line in token.content.split("\n"):
                at_line_start = True
                for piece in re.split(r"(<[^>]*>)", line):
                    if piece.startswith("<"):
                        html(piece)
                    elif piece.strip() and at_line_start:
                        match = COMMAND.match(piece.strip())
                        if match and not (quotes or depth):
                            found.add(match[1])
                        at_line_start = False
            continue
        if token.type != "inline":
            continue
        at_line_start = True
        for child in token.children or []:
            if child.type == "html_inline":
                html(child.content)
                continue
            if at_line_start and child.type == "text" and not (quotes or depth):
                match = COMMAND.match(child.content)
                if match:
                    found.add(match[1])
            at_line_start = child.type in ("softbreak", "hardbreak")
    return found


def commands_we_read(document: str) -> set[str]:
    return set(re.findall(r"^/label (bug\d+)", prose(clean_text(document)), re.MULTILINE))


def build(blocks: list[str], joins: list[str]) -> str:
    document = ""
    for index, block in enumerate(blocks):
        document += (joins[index] if index else "") + block.format(cmd=f"/label bug{index}")
    return document


EXAMPLES = int(os.environ.get("PROSE_EXAMPLES", "300"))


@given(
    st.lists(st.sampled_from(FAITHFUL + MANGLED), min_size=1, max_size=6),
    st.lists(st.sampled_from(["\n", "\n\n", "\r\n\r\n"]), min_size=6),
)
@settings(max_examples=EXAMPLES, deadline=None)
def test_no_command_is_read_where_a_reader_sees_code_or_a_quote(blocks: list[str], joins: list[str]) -> None:
    document = build(blocks, joins)
    assert commands_we_read(document) <= commands_by_commonmark(document), repr(document)


@given(st.lists(st.sampled_from(FAITHFUL), min_size=1, max_size=6))
@settings(max_examples=EXAMPLES, deadline=None)
def test_every_command_in_prose_is_read(blocks: list[str]) -> None:
    document = build(blocks, ["\n\n"] * len(blocks))
    assert commands_we_read(document) == commands_by_commonmark(document), repr(document)


@given(
    st.lists(st.sampled_from(FAITHFUL + MANGLED), min_size=1, max_size=6),
    st.lists(st.sampled_from(["\n", "\n\n"]), min_size=6),
)
@settings(max_examples=EXAMPLES // 2, deadline=None)
def test_cleaning_stays_idempotent_with_quoted_elements(blocks: list[str], joins: list[str]) -> None:
    cleaned = clean_text(build(blocks, joins))
    assert clean_text(cleaned) == cleaned


@pytest.mark.parametrize("block", MANGLED + [b for b in FAITHFUL if "<" in b and "details" not in b])
def test_a_trusted_close_in_html_code_or_a_changed_structure_is_not_executed(block: str) -> None:
    text = block.format(cmd="/close")
    memory = FakeAuthorMemory(trusted={"mona"})
    reader_sees_prose = commands_by_commonmark(block.format(cmd="/label bug0"))
    result = default_chain(memory).evaluate(github_event(clean_text(text)))
    if not reader_sees_prose:
        assert isinstance(result, NeedsClassification), (text, result)
    elif block in FAITHFUL:
        assert isinstance(result, Act), (text, result)


def test_html_code_and_quotes_keep_their_content_quoted_for_the_model() -> None:
    assert clean_text("see <pre>/close\nnow</pre>") == "see /close\n> now"
    assert clean_text("<blockquote>/label security</blockquote> agreed") == "> /label security agreed"
    assert clean_text("<details>\n\n/label bug\n\n</details>") == "/label bug"
    assert clean_text("<code>help</code>") == "> help"


def test_a_command_outside_the_elements_still_counts() -> None:
    result = default_chain(FakeAuthorMemory()).evaluate(
        github_event(clean_text("<pre>/label security</pre>\n\n/label bug"))
    )
    assert isinstance(result, Act) and result.actions[0].params["labels"] == ["bug"], result
