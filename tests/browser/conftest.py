"""Browser tests: real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the
console of one local runtime for the whole module.

Chromium starts with the flags this machine needs (no sandbox as root, no GPU, no QUIC, no background
networking: its connections to Google's hosts would be refused one after another) and a fresh profile.
Playwright's own browser download is never used (`playwright install` needs the network)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local_process import TEMPLATE, LocalProcess

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the README's screenshots go (`make screenshots` sets it); unset: a temporary folder.
SHOTS_ENV = "SWITCHBOARD_SCREENSHOTS"


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not TEMPLATE.exists():
        pytest.fail(f"{TEMPLATE} is missing: run `make synth` first (make test does)")
    state_dir = tmp_path_factory.mktemp("console-state")
    runtime = LocalProcess(
        state_dir, settings={"RETRY_BASE_SECONDS": "1", "BREAKER_FAILURE_THRESHOLD": "1000"}
    )
    try:
        assert "console_url" in runtime.state, "the local runtime serves the console"
        yield runtime.state | {"state_dir": state_dir, "runtime": runtime}
    finally:
        runtime.stop()


@pytest.fixture(scope="session")
def browser_context(console_stack: dict[str, Any]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make dev` installs Debian's chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    yield tab
    tab.close()
    assert not errors, errors  # no script error, and no alert() from an event's text


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get(SHOTS_ENV)
    path = Path(folder) if folder else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path
