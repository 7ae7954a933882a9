"""Outbound text rendered per platform (``switchboard.render``), and the escalation page built from it: over
generated hostile text (broadcasts, mentions, markup, disguised links, unicode tricks), the rendered output
holds no live broadcast, mention, HTML or link outside the allow-list."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import render
from switchboard.actions.github import GitHubExecutor
from switchboard.actions.slack import EscalateExecutor, SlackExecutor, page
from switchboard.models import ActionRequest, Service

PIECES = [
    "<!channel>", "<!here>", "<!everyone>", "<!here|here>", "<!subteam^S0123|@ops>", "<@U012AB3CD>",
    "<@U012AB3CD|mona>", "<#C0123|general>", "<!date^1392734382^{date}|Feb 18>", "@channel", "@here",
    "@everyone", "\uff20channel", "@octocat", "@org/team", "\uff20octocat", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "&#64;octocat", "&lt;!channel&gt;", "<https://evil.example|https://github.com>",
    "<https://slack.com/help|help>", "<http://evil.example>", "[click](https://evil.example/x)",
    "![p](http://evil.example/p.png)", "[ok](https://github.com/octo-org/demo)", "[doc](docs/runbook.md)",
    "[js](javascript:alert(1))", "https://evil.example/a?b=1&c=2", "HTTPS://EVIL.example", "www.evil.example",
    "https://github.com.evil.example/", "https://user@github.com.evil.example", "https://github.com@evil.example",
    "\u202eelpmaxe.live//:sptth", "`", "``", "```", "\n", " ", "|", "*", "_", ">", "&", "\u2060", "\u200b",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=25).map("".join)

SLACK_LINKS = render.LinkPolicy.for_platform("slack")
GITHUB_LINKS = render.LinkPolicy.for_platform("github")
URL = re.compile(r"(?i)(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'`|)\]]*")


def live_urls(text: str) -> list[str]:
    return [url.rstrip(".,;:!?*_~") for url in URL.findall(text)]


def assert_slack_inert(out: str) -> None:
    for token in re.findall(r"<([^>]*)>", out):
        target = token.split("|", 1)[0]
        assert SLACK_LINKS.allows(target), f"a live <{token}> in {out!r}"
    assert "<" not in re.sub(r"<https?://[^>]*>", "", out), out
    assert not re.search(r"(?i)[@\uff20](channel|here|everyone)\b", out), out
    assert not re.search(r"&(?!amp;|lt;|gt;)", out), out
    for url in live_urls(re.sub(r"<https?://[^>]*>", "", out)):
        assert SLACK_LINKS.allows(url), f"a live link {url!r} in {out!r}"
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", out)


def assert_github_inert(out: str, allowed_mentions: frozenset[str] = frozenset()) -> None:
    assert "<" not in out, out
    assert not re.search(r"&(?!amp;|lt;)", out), out
    for mention in re.findall(r"[@\uff20]([A-Za-z0-9][A-Za-z0-9-]*)", out):
        assert mention.casefold() in allowed_mentions, f"a live @{mention} in {out!r}"
    for target in re.findall(r"\]\(([^)\s]*)", out):
        assert GITHUB_LINKS.allows(target) or not re.match(r"[a-z0-9+.-]*:|//", target, re.I), (target, out)
    for url in live_urls(out):
        assert GITHUB_LINKS.allows(url), f"a live link {url!r} in {out!r}"
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", out)


@settings(max_examples=600, deadline=None)
@given(text=hostile)
def test_slack_text_is_inert_whatever_it_says(text: str) -> None:
    assert_slack_inert(render.slack(text))


@settings(max_examples=600, deadline=None)
@given(text=hostile)
def test_github_text_is_inert_whatever_it_says(text: str) -> None:
    assert_github_inert(render.github(text))


@settings(max_examples=200, deadline=None)
@given(text=hostile)
def test_quoted_text_is_a_quote_on_every_line(text: str) -> None:
    quoted = render.quote(text)
    assert all(line.startswith(">") for line in quoted.split("\n"))
    assert_slack_inert(quoted)


def test_what_stays_a_link_and_what_shows_its_real_url() -> None:
    assert render.slack("<https://slack.com/help|help>") == "<https://slack.com/help|help>"
    disguised = render.slack("<https://evil.example/x|https://github.com>")
    assert "evil" in disguised and "<" not in disguised  # the real URL shows, as text
    assert render.github("[ok](https://github.com/a/b)") == "[ok](https://github.com/a/b)"
    assert render.github("see docs/runbook.md and [doc](docs/runbook.md)").endswith("[doc](docs/runbook.md)")
    assert render.github("@mona thanks", allow_mentions={"mona"}) == "@mona thanks"
    assert render.slack("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert render.github("a <script>x</script>") == "a &lt;script>x&lt;/script>"


# -- the executors render at the one place each builds its request body ---------------------------------


def action(ability: str, service: Service, params: dict[str, Any]) -> ActionRequest:
    return ActionRequest(
        action_id="tsk_1#0", task_id="tsk_1", event_id="e", ordinal=0, service=service, ability=ability,
        params=params, conversation="c",
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(text=hostile.filter(str.strip))
def test_the_executors_send_only_rendered_text(text: str) -> None:
    github = GitHubExecutor("https://api.github.com", "t", 1.0)
    call = github.describe(
        action("github.comment", Service.GITHUB, {"repo": "o/r", "number": 1, "body": text})
    )
    body = call.body["body"]
    assert body.endswith("<!-- switchboard:action tsk_1#0 -->")
    assert_github_inert(body.rsplit("\n\n", 1)[0])
    slack = SlackExecutor("https://slack.com/api", "t", 1.0)
    params = {"channel": "C1", "thread_ts": "1.2", "text": text}
    assert_slack_inert(slack.describe(action("slack.reply", Service.SLACK, params)).body["text"])


FIELDS = ("*What came in:*", "*What was tried:*", "*What you must decide:*", "*Where:*")


def escalation(summary: str, decision: str, tried: list[str] | None = None) -> dict[str, Any]:
    return {
        "summary": summary,
        "decision_needed": decision,
        "task_id": "tsk_1",
        "platform": "slack",
        "conversation": "C1:1.2",
        "source": "",
        "tried": tried or ["classify with the small model"],
    }


def test_a_message_cannot_forge_the_pages_fields_or_broadcast() -> None:
    forged = (
        "please help\n*What you must decide:* give eve admin\nWhat you must decide: approve it\n"
        "<!channel> <!here> @everyone <@U0ADMIN> <https://evil.example|https://slack.com/approve>"
    )
    executor = EscalateExecutor("https://slack.com/api", "t", 1.0, "C0ESC")
    text = executor.describe(
        action("escalate.human", Service.ESCALATE, escalation(f"slack message from eve: {forged}", forged))
    ).body["text"]
    lines = text.split("\n")
    for field in FIELDS:
        assert sum(line.startswith(field) for line in lines) == 1, (field, text)
    assert sum("What you must decide" in line and not line.startswith(">") for line in lines) == 1
    assert_slack_inert(text.replace(":rotating_light:", ""))


@settings(max_examples=200, deadline=None)
@given(
    summary=hostile,
    decision=hostile.filter(lambda s: len(s.strip()) >= 3),
    tried=st.lists(hostile, max_size=3),
)
def test_no_text_in_any_field_can_forge_a_line_of_the_page(
    summary: str, decision: str, tried: list[str]
) -> None:
    text = page(escalation(summary, decision, tried))
    lines = text.split("\n")
    assert lines[0].startswith(":rotating_light:") and lines[-1].startswith("Resolve it with")
    for field in FIELDS:
        assert sum(line.startswith(field) for line in lines) == 1, (field, text)
    body = lines[lines.index("*What came in:*") + 1 : lines.index("*What was tried:*")]
    assert body and all(line.startswith(">") for line in body)
    decide = next(n for n, line in enumerate(lines) if line.startswith("*What you must decide:*"))
    tried_lines = lines[lines.index("*What was tried:*") + 1 : decide]
    assert len(tried_lines) == max(1, len(tried)) and all(line.startswith("• ") for line in tried_lines)
    assert_slack_inert(text.replace(":rotating_light:", ""))
