"""Outbound text, rendered for its platform: what a model, a template or a quoted message says reaches people
as text, never as a broadcast, a mention, markup or a link that policy does not allow.

The executors call these at the one place each builds its request body (``switchboard.actions.github``,
``switchboard.actions.slack``), so every outbound text passes here: model-written replies, follow-up replies
and escalation pages alike.

Slack (``slack``), after Slack's "Formatting text for app surfaces"
(https://api.slack.com/reference/surfaces/formatting, now
https://docs.slack.dev/messaging/formatting-message-text, read 2026-12): ``&``, ``<`` and ``>`` are Slack's
control characters and "must be converted to HTML entities if they're not going to be used for their parsing
purpose"; ``<!here>``, ``<!channel>``, ``<!everyone>``,
``<!subteam^ID>``, ``<@U…>`` and ``<#C…>`` are the special mentions, and ``<url|text>`` a link whose visible
text may hide its target. So:
- every ``<…>`` sequence is taken apart: mentions and broadcasts become plain text (``@channel`` with a word
  joiner, U+2060, after the ``@``, so it reads the same and pings nobody); a link to an allowed host stays a
  link, any other shows its text and its real URL, as plain text; ``&``, ``<``, ``>`` everywhere else are
  escaped;
- a raw ``@channel``, ``@here``, ``@everyone`` (which Slack turns into a broadcast with ``link_names``) gets
  the same word joiner;
- a bare domain (``example.com``, ``evil.example.io/path``), which Slack's clients make a link although the
  text has no scheme (seen in the wild: "strings like tablename.id" become links,
  https://gitlab.com/postgres-ai/joe/-/issues/139), gets a word joiner before each dot unless its host is
  allowed.

GitHub (``github``), after GitHub's "Basic writing and formatting syntax" (https://docs.github.com/get-started/
writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax,
"Mentioning people and teams": typing ``@`` and a username or team name "will trigger a notification"; read
2026-12):
- ``@user`` and ``@org/team`` get a word joiner after the ``@`` (no login starts with U+2060, so GitHub
  sees no mention) unless the login is in ``allow_mentions``;
- ``&`` and ``<`` are escaped, so raw HTML (``<script>``, ``<a href>``, ``<img>``) and HTML entities
  (``&#64;user``) are shown as text;
- a link (a Markdown link or image, or a bare URL, which GitHub links automatically: GFM's autolinks
  extension links ``www.`` names, ``http(s)://`` URLs, e-mail addresses and ``mailto:``/``xmpp:``,
  https://github.github.com/gfm/#autolinks-extension-, not a bare ``example.com``) to a host that is not
  allowed, and any other Markdown link syntax, is shown as plain text: in a code span, with a word joiner
  after each colon and before each dot, so neither the Markdown renderer nor an autolinker sees a link
  whatever backticks are around it.

Both: bidirectional-override characters (U+202A…U+202E, U+2066…U+2069), which can make text read other than
it is, are removed. Allowed link hosts (``LinkPolicy``): the platform's own domains and the tickets service's
host by default; a subdomain of an allowed host is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from switchboard import catalog

JOINER: Final = "\u2060"
_BIDI: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")
GITHUB_HOSTS: Final = frozenset({"github.com", "githubusercontent.com", "github.io"})
SLACK_HOSTS: Final = frozenset({"slack.com"})


_HOST_NAME: Final = re.compile(
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]"
    r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
)


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class LinkPolicy:
    """Hosts whose links stay links (each with its subdomains)."""

    hosts: frozenset[str]

    @classmethod
    def for_platform(
        cls, platform: str, extra: Iterable[str] = (), tickets_api_url: str | None = None
    ) -> LinkPolicy:
        own = {"github": GITHUB_HOSTS, "slack": SLACK_HOSTS}.get(platform, frozenset())
        tickets = _host_of(tickets_api_url or catalog.service("tickets").api_url)
        return cls(frozenset({*own, *(h.lower() for h in extra if h), *([tickets] if tickets else [])}))

    @staticmethod
    def parse_hosts(value: str | Iterable[str] | None) -> tuple[str, ...]:
        """The hosts of ``linkAllowList``: a JSON list of host names (``["docs.example.com"]``) or names
        separated by commas or spaces; empty: none beyond the defaults. A name with a scheme, a path, a port
        or a wildcard is refused (a subdomain of a listed host is allowed anyway)."""
        if value is None:
            return ()
        if isinstance(value, str):
            text = value.strip()
            items: Iterable[object] = json.loads(text) if text.startswith("[") else re.split(r"[,\s]+", text)
        else:
            items = value
        hosts: list[str] = []
        for item in items:
            if item == "":
                continue
            if not isinstance(item, str) or not _HOST_NAME.fullmatch(item):
                raise ValueError(
                    f"linkAllowList: {item!r} is not a host name (docs.example.com: no scheme, path or *)"
                )
            hosts.append(item.lower().rstrip("."))
        return tuple(dict.fromkeys(hosts))

    def allows(self, url: str) -> bool:
        """An absolute http(s) URL to an allowed host, with nothing in it that parsers read differently."""
        if not re.match(r"(?i)https?://", url) or re.search(r"[\s\\@<>\"'`|\x00-\x1f\x7f]", url):
            return False
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018  # a malformed port raises
        except ValueError:
            return False
        return bool(host) and any(host == allowed or host.endswith("." + allowed) for allowed in self.hosts)


# -- links: one pattern for what a renderer or an autolinker would make a link ----------------------------

_URL: Final = r"(?:[A-Za-z][A-Za-z0-9+.-]{1,20}:/{1,3}|(?i:www)\.)[^\s<>\"'`\]\[()]+"
_MD_LINK: Final = re.compile(
    r"(!?)\[([^\[\]\n]{0,500})\]\(\s*<?([^()\s<>]{0,2000})>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
_BARE_URL: Final = re.compile(_URL)
_TRAILING: Final = ".,;:!?*_~"


def plain_url(url: str) -> str:
    """A URL as inert text: in a code span, a word joiner after the scheme's colon and before every dot."""
    inert = url.replace("`", "'").replace(":", ":" + JOINER).replace(".", JOINER + ".")
    inert = inert.replace("@", "@" + JOINER).replace("\uff20", "\uff20" + JOINER)
    return f"`{inert}`"


# -- GitHub -------------------------------------------------------------------------------------------------

_GH_MENTION: Final = re.compile(
    r"[@\uff20](?=[A-Za-z0-9])([A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9_.-]+)?)"
)


def github(text: str, links: LinkPolicy | None = None, allow_mentions: Iterable[str] = ()) -> str:
    """``text`` as GitHub Markdown that mentions nobody (but ``allow_mentions``), runs no HTML and links only
    to allowed hosts."""
    links = links or LinkPolicy.for_platform("github")
    allowed = {login.casefold() for login in allow_mentions}
    text = _BIDI.sub("", text)

    def free(segment: str) -> str:
        # What is left of Markdown link syntax outside the links taken apart above (a target with parentheses,
        # a reference ``[text][ref]`` and its ``[ref]: url``) is broken with a word joiner.
        return re.sub(r"\](?=[(\[:])", "]" + JOINER, _gh_escape(segment))

    def mention(match: re.Match[str]) -> str:
        name = match.group(1)
        if "/" not in name and name.casefold() in allowed:
            return "@" + name
        return "@" + JOINER + name

    def bare(segment: str) -> str:
        out, last = [], 0
        for match in _BARE_URL.finditer(segment):
            url = match.group(0).rstrip(_TRAILING)
            out.append(free(segment[last : match.start()]))
            out.append(url if links.allows(url) else _gh_escape(plain_url(url)))
            last = match.start() + len(url)
        out.append(free(segment[last:]))
        return "".join(out)

    out, last = [], 0
    for match in _MD_LINK.finditer(text):
        bang, label, target = match.groups()
        out.append(bare(text[last : match.start()]))
        if links.allows(target) or _relative(target):
            out.append(f"{bang}[{bare(label)}]({target})")
        else:
            shown = _gh_escape(plain_url(target))
            out.append(f"{bare(label)} ({shown})" if label.strip() else shown)
        last = match.end()
    out.append(bare(text[last:]))
    # Mentions last, over the whole text: taking a link apart can join an ``@`` to the text after it. No
    # allowed link holds an ``@`` (``LinkPolicy.allows``), so this never changes one.
    return _GH_MENTION.sub(mention, "".join(out))


def _gh_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _relative(target: str) -> bool:
    """A path on the platform itself (``docs/runbook.md``, ``#section``): no scheme, no other host."""
    return (
        bool(target) and not target.startswith(("//", "\\")) and re.match(r"[A-Za-z0-9+.-]*:", target) is None
    )


# -- Slack --------------------------------------------------------------------------------------------------

_SLACK_TOKEN: Final = re.compile(r"<([^<>\n]{0,3000})>")
_SLACK_BROADCAST: Final = re.compile(r"(?i)[@\uff20](channel|here|everyone|all)\b")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(text: str, links: LinkPolicy | None = None) -> str:
    """``text`` as Slack mrkdwn that broadcasts to nobody, mentions nobody and links only to allowed hosts."""
    links = links or LinkPolicy.for_platform("slack")
    text = _BIDI.sub("", text)

    def free(segment: str) -> str:
        out, last = [], 0
        for match in _BARE_URL.finditer(segment):
            url = match.group(0).rstrip(_TRAILING)
            out.append(_slack_plain(segment[last : match.start()], links))
            out.append(_slack_escape(url) if links.allows(url) else plain_url(_slack_escape(url)))
            last = match.start() + len(url)
        out.append(_slack_plain(segment[last:], links))
        return "".join(out)

    out, last = [], 0
    for match in _SLACK_TOKEN.finditer(text):
        out.append(free(text[last : match.start()]))
        out.append(_slack_token(match.group(1), links, free))
        last = match.end()
    out.append(free(text[last:]))
    # Broadcasts last, over the whole text (taking a token apart can join an ``@`` to what follows it).
    return _SLACK_BROADCAST.sub(lambda m: "@" + JOINER + m.group(1), "".join(out))


#: A bare domain name, as Slack's clients link it (an e-mail address's domain too, which becomes a mailto:
#: link): labels and a final label of letters (a top-level domain), optionally a path. Only at the start of
#: a word, each label read possessively: a dotted run costs about its length.
_BARE_DOMAIN: Final = re.compile(
    r"(?<![\w./:-])(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,63}(?![\w-])(?P<path>/[^\s<>|]*+)?+"
)


def _slack_plain(segment: str, links: LinkPolicy) -> str:
    text = _SLACK_BROADCAST.sub(lambda m: "@" + JOINER + m.group(1), _slack_escape(segment))
    return _BARE_DOMAIN.sub(lambda m: _inert_domain(m, links), text)


def _inert_domain(match: re.Match[str], links: LinkPolicy) -> str:
    """A bare domain as text that no client links (a word joiner before each dot), unless it is allowed."""
    name = match.group(0)
    if links.allows("https://" + name):
        return name
    return name.replace(".", JOINER + ".")


def _slack_token(inner: str, links: LinkPolicy, render: Callable[[str], str]) -> str:
    """One ``<…>`` sequence as Slack would read it, made inert unless it is a link to an allowed host."""
    target, _, label = inner.partition("|")
    if target.startswith(("!", "@", "#")):
        kind, name = target[0], target[1:]
        if kind == "!":
            if name.startswith("date"):
                return render(label or "a date")
            name = label.lstrip("@") if label else name.split("^", 1)[0]
            return "@" + JOINER + render(name or "mention")
        shown = label.lstrip("@#") or name
        return ("@" if kind == "@" else "#") + JOINER + render(shown)
    if not re.match(r"(?i)[a-z][a-z0-9+.-]*:|www\.", target):  # not a link: the text as it was written
        return render("<" + inner + ">")
    if links.allows(target):
        return f"<{target}|{render(label)}>" if label else f"<{target}>"
    shown = plain_url(_slack_escape(target))
    return f"{render(label)} ({shown})" if label.strip() else shown


def quote(text: str, render: str = "slack", links: LinkPolicy | None = None) -> str:
    """Quoted user text, visibly quoted and inert: rendered for the platform, each line prefixed ``>``."""
    rendered = slack(text, links) if render == "slack" else github(text, links)
    lines = rendered.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(f"> {line}" if line else ">" for line in lines)
