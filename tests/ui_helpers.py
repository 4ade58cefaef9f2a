"""Helpers for the browser test (tests/test_ui.py): `dagster dev` as a subprocess over a test home,
a headless Chromium driven by Selenium through the system chromedriver, and failure artifacts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5,
             alive: Callable[[], str | None] | None = None):
    """Poll ``predicate`` until it returns something truthy; ``alive`` returns an error text to stop early."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling, report the last error on timeout
            last_error = exc
        if alive is not None and (dead := alive()):
            raise AssertionError(f"while waiting for {what}: {dead}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------- browser prerequisites

def find_browser() -> tuple[str | None, str | None, str | None]:
    """(chromium binary, chromedriver, reason it is unusable or None)."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install selenium)")
    candidates = ("chromium", "chromium-browser", "google-chrome")
    chromium = next((p for p in map(shutil.which, candidates) if p), None)
    driver = shutil.which("chromedriver")
    if not chromium:
        missing.append("a chromium binary on PATH")
    if not driver:
        missing.append("chromedriver on PATH")
    reason = None
    if missing:
        reason = ("browser test needs " + ", ".join(missing)
                  + " (scripts/install_browser.sh installs the browser)")
    return chromium, driver, reason


def make_driver(chromium: str, chromedriver: str, log_file: Path):
    """Headless Chromium through the given chromedriver; Selenium Manager is never consulted."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1600,1000", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, log_output=str(log_file))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(60)
    # Dagster shows a "Join the Dagster community" dialog on localhost once per browser profile; the
    # UI stores its dismissal under localStorage["communityNux"].
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "try { window.localStorage.setItem('communityNux', '\"1\"'); } catch (e) {}"})
    return driver


# --------------------------------------------------------------------------- dagster dev

def instance_folder(home: Path | str) -> Path:
    """The home's Dagster instance folder, created with its storage (as the CLI does), without leaving
    this test process pointed at it."""
    from vidgen_dagster.instance import prepare_instance

    before = os.environ.get("DAGSTER_HOME")
    try:
        return prepare_instance(str(home))
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """``dagster dev -w workspace.yaml`` (webserver + daemon) in its own process group."""

    def __init__(self, home: Path, log_file: Path, port: int | None = None):
        self.home = Path(home)
        self.dagster_home = instance_folder(home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> DagsterDev:
        env = {k: v for k, v in os.environ.items() if k not in ("VIDGEN_CONFIG", "VIDGEN_INBOX")}
        env.update(VIDGEN_HOME=str(self.home), DAGSTER_HOME=str(self.dagster_home), PYTHONUNBUFFERED="1",
                   DAGSTER_DISABLE_TELEMETRY="1")
        cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(self.port),
               "-w", str(ROOT / "workspace.yaml")]
        self.started_at = time.monotonic()
        with open(self.log_file, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def exited(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"dagster dev exited with {self.proc.returncode}; log tail:\n{self.log_tail()}"
        return None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 10) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url + "/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def _server_info(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/server_info", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _ready(self) -> bool:
        if not self._server_info():
            return False
        data = self.graphql("""{
          workspaceOrError { ... on Workspace { locationEntries { name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } } } } }
          instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } }
        }""")
        entries = data["workspaceOrError"]["locationEntries"]
        for e in entries:
            if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError":
                raise AssertionError(f"code location {e['name']} failed to load: "
                                     f"{e['locationOrLoadError']['message']}")
        loaded = bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"]
                                       for e in entries)
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        daemons = {d["daemonType"]: d["healthy"] for d in statuses}
        # Runs launched from the UI are queued: the run queue (and, for backfills, the backfill daemon)
        # must be up before a launch can make progress.
        return loaded and daemons.get("QUEUED_RUN_COORDINATOR") is True and daemons.get("BACKFILL") is True

    def wait_ready(self, timeout: float = 120) -> float:
        wait_for(self._server_info, timeout, f"{self.url}/server_info", alive=self.exited)
        wait_for(self._ready, timeout, "the code location to load and the daemons to report healthy",
                 interval=1, alive=self.exited)
        return time.monotonic() - self.started_at

    def stop(self, grace: float = 10) -> None:
        """Interrupt the whole process group (like Ctrl-C), then kill what is left of it."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the leader's pid is the group id
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_members(pgid):
                self.proc.poll()  # reap the leader
                time.sleep(0.2)
            if not group_members(pgid):
                break
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        left = group_members(pgid)
        if left:
            raise AssertionError(f"dagster dev left processes behind in group {pgid}: {left}")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel whether anything is left in the group
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except ProcessLookupError:
            return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


# --------------------------------------------------------------------------- failure artifacts

class Artifacts:
    """Screenshots and page sources of the browser, plus the server log, saved on failure."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.driver = None
        self.server: DagsterDev | None = None
        self.steps: list[str] = []

    def step(self, name: str) -> None:
        previous = self.steps[-1].split(" ", 1)[1] if self.steps else ""
        self.steps.append(f"{time.strftime('%H:%M:%S')} {name}")
        if os.environ.get("VIDGEN_UI_SCREENSHOTS") and self.driver is not None and previous:
            # Opt-in: a screenshot of what the previous step left on screen, also on success.
            self.folder.mkdir(parents=True, exist_ok=True)
            safe = "after-" + "".join(c if c.isalnum() else "-" for c in previous)[:60].strip("-")
            try:
                self.driver.save_screenshot(str(self.folder / f"{len(self.steps) - 1:02d}-{safe}.png"))
            except Exception:  # noqa: BLE001 - a screenshot must never fail the test
                pass

    def save(self, label: str = "failure") -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "steps.txt").write_text("\n".join(self.steps) + "\n")
        if self.driver is not None:
            d = self.driver
            try:
                (self.folder / f"{label}.url.txt").write_text(d.current_url + "\n")
                d.save_screenshot(str(self.folder / f"{label}.png"))
                (self.folder / f"{label}.html").write_text(d.page_source)
            except Exception as exc:  # the browser itself may be what broke
                (self.folder / f"{label}.browser-error.txt").write_text(repr(exc))
            try:
                logs = d.get_log("browser")
                (self.folder / "browser-console.log").write_text(
                    "\n".join(f"{e.get('level')} {e.get('message')}" for e in logs))
            except Exception:
                pass
        if self.server is not None and self.server.log_file.exists():
            target = self.folder / "dagster-dev.log"
            if target.resolve() != self.server.log_file.resolve():
                shutil.copy(self.server.log_file, target)
        return self.folder

    @contextmanager
    def on_failure(self) -> Iterator[Artifacts]:
        try:
            yield self
        except BaseException as exc:
            import pytest

            if isinstance(exc, KeyboardInterrupt | pytest.skip.Exception) or getattr(exc, "_ui_saved", False):
                raise
            exc._ui_saved = True  # an enclosing on_failure() leaves it be
            try:
                folder = self.save()
                exc.add_note(f"UI test artifacts (screenshot, page source, steps, dagster dev log): {folder}")
            except Exception as save_exc:
                exc.add_note(f"could not save UI test artifacts to {self.folder}: {save_exc!r}")
            raise
