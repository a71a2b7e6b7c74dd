"""`make demo` (``manage.py rundemo``) for real: Ctrl-C at any moment stops everything it started, quietly,
and once it is up the portal's address and logins are the last lines it printed (issue 8).

Each run is a real process tree (localstripe, qcluster and its workers, runserver) on free ports with a
temporary SQLite database. Every process the demo starts inherits a marker in its environment, so a
leftover is found in /proc whichever process group or parent it ended up in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from billing.demo.seed import DEMO_LOGINS
from billing.stripe.localstripe import free_port

ROOT = Path(__file__).resolve().parent.parent
MARK = "CHAIRSIDE_DEMO_TEST_MARK"

pytestmark = [
    pytest.mark.timeout(420),
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find leftovers"),
]


def marked_processes(mark: str) -> list[str]:
    """Live (non-zombie) processes whose environment carries this run's marker: "pid cmdline"."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(f"{entry.name} {cmdline}")
    return found


class Demo:
    """``manage.py rundemo`` in its own session, as a terminal would run it; output collected line by line."""

    def __init__(self, tmp: Path):
        self.mark = uuid.uuid4().hex
        self.port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STRIPE_", "DJANGO_", "PYTEST", "CHAIRSIDE_TEST")) and k not in {"DATABASE_URL"}
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.dev",
                "DATABASE_URL": f"sqlite:///{tmp / 'demo.sqlite3'}",
                "CACHE_URL": "locmemcache://demo-test",
                "Q_BROKER": "orm",
                "Q_WORKERS": "2",
                "DEMO_LOCALSTRIPE_PORT": str(free_port()),
                "DEMO_LOG_DIR": str(tmp),
                "PYTHONUNBUFFERED": "1",
                MARK: self.mark,
            }
        )
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "rundemo", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a shell's foreground job
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            assert self.proc.poll() is None, f"the demo exited before printing {text!r}:\n{self.output}"
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output}")

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def assert_stopped_cleanly(self) -> None:
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill_everything()
            raise AssertionError(f"the demo didn't stop within 60 s of Ctrl-C:\n{self.output}") from None
        self.reader.join(timeout=10)
        leftovers = marked_processes(self.mark)
        deadline = time.monotonic() + 3  # a process killed a moment ago may still be on its way out
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.1)
            leftovers = marked_processes(self.mark)
        if leftovers:
            self.kill_everything()
        assert not leftovers, f"left running after Ctrl-C: {leftovers}\n{self.output}"
        assert "Traceback" not in self.output, self.output
        assert code == 0, f"exit {code}:\n{self.output}"

    def kill_everything(self) -> None:
        for line in marked_processes(self.mark):
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_ctrl_c_at_any_moment_stops_everything_quietly_and_the_portal_is_the_last_thing_printed(tmp_path):
    # 1. Immediately: Django is still loading; nothing has started.
    demo = Demo(tmp_path)
    time.sleep(0.3)
    demo.ctrl_c()
    demo.assert_stopped_cleanly()

    # 2. During seeding (a fresh database: migrating, then seeding, takes a while).
    demo = Demo(tmp_path)
    demo.wait_for("Database migrated.")
    time.sleep(0.5)
    assert not any("Demo practice ready" in line for line in demo.lines), "the seed finished too soon to test"
    demo.ctrl_c()
    demo.assert_stopped_cleanly()

    # 3. Up: the portal's address and the logins are the last lines; everything it started is running.
    demo = Demo(tmp_path)
    try:
        demo.wait_for("Chairside demo is running at")
        demo.wait_for("log in as frontdesk")
        time.sleep(1.5)  # nothing else is printed after them while nobody uses the portal
        tail = [line for line in demo.lines if line.strip() and not set(line.strip()) <= {"="}][-3:]
        assert tail[0] == f"Chairside demo is running at http://127.0.0.1:{demo.port}/", demo.output
        for username, (password, _) in DEMO_LOGINS.items():
            assert any(f"log in as {username} / {password}" in line for line in tail[1:]), demo.output
        running = " ".join(marked_processes(demo.mark))
        assert "localstripe" in running and "qcluster" in running and "runserver" in running, running
    except BaseException:
        demo.kill_everything()
        raise
    demo.ctrl_c()
    demo.assert_stopped_cleanly()
    assert demo.lines[-1] == "Demo stopped.", demo.output

    # 4. While localstripe, the worker and the web server are starting (the data is seeded by now).
    demo = Demo(tmp_path)
    demo.wait_for("localstripe (a local fake Stripe) is running")
    time.sleep(0.4)
    demo.ctrl_c()
    demo.assert_stopped_cleanly()

    # 5. SIGTERM to the command alone (a service manager, `kill`) stops it the same way, mid-start-up.
    demo = Demo(tmp_path)
    demo.wait_for("Database migrated.")
    os.kill(demo.proc.pid, signal.SIGTERM)
    demo.assert_stopped_cleanly()
