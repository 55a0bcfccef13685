"""Browser tests: `qms demo` started as a newcomer would, driven with Playwright and Debian's Chromium.

The server is the real console script in a subprocess (waitress, a fresh instance directory);
the browser is /usr/bin/chromium (never a Playwright download). Without it the tests skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("QMS_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START_TIMEOUT = 240.0  # seeding once, then each start; CI runs three suites side by side
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
INTERNAL_SCHEMES = {"data", "blob", "about"}


@dataclass
class DemoServer:
    base_url: str
    instance: Path
    accounts: dict[str, str]  # username -> password, as printed by `qms demo`
    output: list[str]  # every line the server printed so far


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _qms_command() -> list[str]:
    """The installed console script, preferably the one beside this interpreter."""
    beside = Path(sys.executable).with_name("qms")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("qms")
    if found:
        return [found]
    return [sys.executable, "-c", "from qms.cli import main; main()"]


def parse_demo_accounts(lines: list[str]) -> dict[str, str]:
    """The "username password description" lines that follow "Demo accounts:"."""
    accounts: dict[str, str] = {}
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Demo accounts:") + 1
    except StopIteration:
        return accounts
    for line in lines[start:]:
        parts = line.split()
        if len(parts) < 2 or not line.startswith(" "):
            break
        accounts[parts[0]] = parts[1]
    return accounts


def _pump(stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
    # The pipe is drained continuously so a chatty server never blocks on a full pipe.
    for line in stream:
        sink.append(line.rstrip("\n"))


def _wait_until_serving(proc: subprocess.Popen[str], output: list[str], base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            time.sleep(0.2)  # let the reader thread collect the last lines
            pytest.fail(f"`qms demo` exited with {proc.returncode}:\n" + "\n".join(output))
        if any(line.startswith("Serving on") for line in output):
            try:
                with urllib.request.urlopen(base_url + "health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.2)
    pytest.fail(f"`qms demo` did not answer /health within {START_TIMEOUT:.0f} s:\n" + "\n".join(output))


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _demo_env(instance: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("QMS_")}
    env.update(QMS_INSTANCE_PATH=str(instance), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def seeded_demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`qms demo --no-serve` once per session in a fresh instance directory: every domain seeded.

    Each module's server starts on a copy of it: `qms demo` on a seeded instance only reads the
    accounts back and finds every seeder's work done, so the seeding itself runs once, not once per
    module (it is most of a demo's start-up)."""
    instance = tmp_path_factory.mktemp("demo-seeded")
    done = subprocess.run([*_qms_command(), "demo", "--no-serve"], env=_demo_env(instance), cwd=instance,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                          timeout=START_TIMEOUT)
    if done.returncode != 0:
        pytest.fail(f"`qms demo --no-serve` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return instance


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, seeded_demo_instance: Path) -> Iterator[DemoServer]:
    """`qms demo --port <free>` on a fresh copy of the seeded instance; always terminated afterwards."""
    instance = tmp_path_factory.mktemp("demo-instance")
    shutil.copytree(seeded_demo_instance, instance, dirs_exist_ok=True)
    port = _free_port()
    env = _demo_env(instance)
    output: list[str] = []
    proc = subprocess.Popen([*_qms_command(), "demo", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=instance, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    reader = threading.Thread(target=_pump, args=(proc.stdout, output), daemon=True)
    reader.start()
    try:
        base_url = f"http://127.0.0.1:{port}/"
        _wait_until_serving(proc, output, base_url)
        accounts = parse_demo_accounts(output)
        assert accounts, "no accounts after 'Demo accounts:' in the output of `qms demo`:\n" + "\n".join(output)
        yield DemoServer(base_url=base_url, instance=instance, accounts=accounts, output=output)
    finally:
        _stop(proc)
        reader.join(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's Chromium under Playwright; the tests skip when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run e2e tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserSession:
    """A fresh browser context on the demo server, with what it saw besides the pages."""

    page: object
    server: DemoServer
    shots: Path
    foreign_requests: list[str] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    def assert_clean(self) -> None:
        """No request left the machine, and the browser reported no CSP violation or script error."""
        assert self.foreign_requests == [], f"requests to non-local hosts: {self.foreign_requests}"
        assert self.csp_errors == [], f"Content-Security-Policy violations: {self.csp_errors}"
        assert self.page_errors == [], f"uncaught script errors: {self.page_errors}"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in INTERNAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@pytest.fixture
def browser_session(chromium, demo_server: DemoServer, tmp_path: Path) -> Iterator[BrowserSession]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(base_url=demo_server.base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    session = BrowserSession(page=page, server=demo_server, shots=tmp_path)

    def on_request(request) -> None:  # type: ignore[no-untyped-def]
        if not _is_local(request.url):
            session.foreign_requests.append(request.url)

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type != "error":
            return
        session.console_errors.append(message.text)
        if "Content Security Policy" in message.text:
            session.csp_errors.append(message.text)

    context.on("request", on_request)  # every page of the context, including popups
    page.on("console", on_console)
    page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    try:
        yield session
    finally:
        context.close()
