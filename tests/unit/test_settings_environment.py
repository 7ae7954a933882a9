"""Settings read from the environment as pydantic-settings read them, without importing it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import Field, ValidationError

from switchboard.models import FeedSpec, Service
from switchboard.settings import EnvSettings, PollSettings


class Example(EnvSettings):
    name: str
    count: int = 1
    tags: tuple[int, ...] = ()
    urls: Mapping[Service, str] = Field(default_factory=dict)
    optional: list[str] | None = None
    text: str = ""


def test_fields_come_from_variables_named_like_them_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME", "ingest")
    monkeypatch.setenv("count", "3")

    settings = Example.from_environment()

    assert (settings.name, settings.count) == ("ingest", 3)


def test_complex_fields_are_json_and_plain_strings_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME", "x")
    monkeypatch.setenv("TAGS", "[10, 30]")
    monkeypatch.setenv("URLS", '{"github": "https://sqs.local/act-github.fifo"}')
    monkeypatch.setenv("OPTIONAL", '["a"]')
    monkeypatch.setenv("TEXT", '["not", "parsed"]')

    settings = Example.from_environment()

    assert settings.tags == (10, 30)
    assert settings.urls == {Service.GITHUB: "https://sqs.local/act-github.fifo"}
    assert settings.optional == ["a"]
    assert settings.text == '["not", "parsed"]'


def test_keywords_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME", "from-env")

    assert Example.from_environment(name="given").name == "given"


def test_a_missing_variable_fails_validation_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAME", raising=False)

    with pytest.raises(ValidationError, match="name"):
        Example.from_environment()


def test_a_value_that_is_not_json_names_the_variable_and_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAME", "x")
    monkeypatch.setenv("TAGS", "sekrit-[")

    with pytest.raises(ValueError, match="TAGS") as raised:
        Example.from_environment()
    assert "sekrit" not in str(raised.value)


def test_settings_are_frozen_and_ignore_other_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME", "x")
    monkeypatch.setenv("SOMETHING_ELSE", "y")
    settings = Example.from_environment()

    with pytest.raises(ValidationError):
        settings.name = "changed"  # type: ignore[misc]


def test_the_poll_function_reads_its_feeds_as_json_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "switchboard-poll")
    monkeypatch.setenv("MEMORY_TABLE_NAME", "memory")
    monkeypatch.setenv("TASKS_TABLE_NAME", "tasks")
    monkeypatch.setenv("INGEST_QUEUE_URL", "https://sqs.local/ingest.fifo")
    monkeypatch.setenv("FEEDS", '[{"name": "blog", "kind": "atom", "url": "https://example.com/feed.xml"}]')

    settings = PollSettings.from_environment()

    assert settings.feeds == [FeedSpec(name="blog", kind="atom", url="https://example.com/feed.xml")]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed.xml", "example.com/feed.xml", "https://", "file:///etc/passwd", ""]
)
def test_a_feed_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValidationError):
        FeedSpec(name="blog", kind="atom", url=url)


def test_a_feed_url_is_kept_as_configured() -> None:
    feed = FeedSpec(name="blog", kind="rss", url="http://example.com:8080/rss?lang=en")
    assert feed.url == "http://example.com:8080/rss?lang=en"
