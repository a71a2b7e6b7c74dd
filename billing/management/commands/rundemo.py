"""`make demo`: migrate, seed, then run the web server and the job worker side by side until Ctrl-C.

Feature apps that need a peer process for the demo (the local fake Stripe) register it in
``billing.registry`` with ``register_demo_process``; it starts first and stops last.

Stopping is the part that must never go wrong: Ctrl-C (SIGINT), SIGTERM or SIGHUP at any moment, from the
first second of migrating to hours later, stops everything this command started (localstripe, the
``qcluster`` and its worker children, the web server), quietly, and the command exits. Each child runs
in its own process group, so a Ctrl-C in the terminal reaches only this command (no child prints a
traceback of its own), and the clean-up ends each group as a whole. The children's output goes to a log
file each; the terminal shows it only once the demo is up, so the portal's address and logins are the
last lines of the start-up output.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing.demo.seed import DEMO_LOGINS
from billing.registry import demo_processes

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
READY_TIMEOUT = 120.0  # seconds for the web server to answer
SETTLE_TIMEOUT = 20.0  # at most this long for the worker to send what the seed queued
STOP_TIMEOUT = 10.0  # then whatever is left of a child's process group is killed


class _Stop(BaseException):
    """A stop signal arrived: unwind to the clean-up from wherever the command was."""


class _Child:
    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path | None):
        self.name, self.popen, self.log_path = name, popen, log_path
        self.tail: collections.deque[bytes] = collections.deque(maxlen=25)
        self.reader: threading.Thread | None = None


class Supervisor:
    """Starts children in their own process groups, relays their output, and stops them all."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[_Child] = []
        self.live = False  # relay the children's output to the terminal (only once the demo is up)
        self.stopping = False
        self.stop_requested = False
        self.last_output = time.monotonic()
        self._critical = 0
        self._write_lock = threading.Lock()

    # --- signals ---------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stop_requested = True
        if not self.stopping and not self._critical:
            self.stopping = True  # only the first signal unwinds; later ones can't break the clean-up
            raise _Stop

    @contextmanager
    def critical(self):
        """A stop signal waits until the block ends: a process is never started without being recorded."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self.stop_requested and not self._critical and not self.stopping:
            self.stopping = True
            raise _Stop

    # --- output ----------------------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        with self._write_lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def _relay(self, child: _Child) -> None:
        with open(child.log_path, "ab") as log:
            for line in iter(child.popen.stdout.readline, b""):
                log.write(line)
                log.flush()
                child.tail.append(line)
                self.last_output = time.monotonic()
                if self.live and not self.stopping:
                    with self._write_lock:
                        sys.stdout.buffer.write(line)
                        sys.stdout.flush()
        child.popen.stdout.close()

    # --- children --------------------------------------------------------------------------------------
    def launch(self, name: str, argv: list[str], env: dict) -> _Child:
        with self.critical():
            log_path = self.log_dir / f"demo-{name}.log"
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=settings.BASE_DIR,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches only us
            )
            child = _Child(name, popen, log_path)
            self.children.append(child)
            child.reader = threading.Thread(target=self._relay, args=(child,), name=f"demo-{name}", daemon=True)
            child.reader.start()
        return child

    def adopt(self, name: str, popen: subprocess.Popen) -> _Child:
        child = _Child(name, popen, None)
        self.children.append(child)
        return child

    def exited(self) -> _Child | None:
        return next((c for c in self.children if c.popen.poll() is not None), None)

    def stop_all(self) -> None:
        """Stop every child, newest first: a polite SIGTERM to its main process, then SIGKILL to whatever
        is left in its process group (a worker the cluster didn't reap). Signals are only noted now."""
        self.stopping = True
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in reversed(self.children):
            if child.popen.poll() is None:
                try:
                    child.popen.terminate()
                except ProcessLookupError:
                    pass
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in reversed(self.children):
            _kill_group(child.popen.pid)
            if child.popen.poll() is None:
                child.popen.kill()
            child.popen.wait()
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=5)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is empty: every process in it has exited


class Command(BaseCommand):
    help = "Run the demo portal: migrate, seed demo data, start the web server and the django-q2 worker."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Don't start the django-q2 worker.")
        parser.add_argument(
            "--log-dir",
            default=os.environ.get("DEMO_LOG_DIR", ""),
            help="Where the web server's and the worker's logs go (default: var/).",
        )

    def handle(self, *args, addr, port, no_worker, log_dir, **options):
        log_dir = Path(log_dir) if log_dir else Path(settings.BASE_DIR) / "var"
        log_dir.mkdir(parents=True, exist_ok=True)
        sup = Supervisor(log_dir)
        sup.install_signal_handlers()
        failed: _Child | None = None
        try:
            try:
                failed = self._run(sup, addr=addr, port=port, no_worker=no_worker)
            finally:
                sup.stopping = True  # from here on a signal is only noted
        except _Stop:
            pass
        if sup.children:
            sup.say("\nStopping the demo ...")
        sup.stop_all()
        if failed is not None:
            sup.say(f"The demo's {failed.name} stopped (exit {failed.popen.returncode}); its last output:")
            for line in failed.tail:
                sup.say("  " + line.decode(errors="replace").rstrip())
            if failed.log_path:
                sup.say(f"Full log: {failed.log_path}")
            sys.exit(1)
        sup.say("Demo stopped.")

    def _run(self, sup: Supervisor, *, addr: str, port: int, no_worker: bool) -> _Child | None:
        """Start everything and wait; returns the child that stopped on its own, if one did."""
        sup.say("Starting the Chairside demo (Ctrl-C stops it at any time) ...")
        call_command("migrate", interactive=False, verbosity=0)
        sup.say("Database migrated.")
        call_command("seed_demo", stdout=self.stdout)

        url = f"http://{addr}:{port}/"
        # CHAIRSIDE_DEMO_URL lets a demo process point back at the portal (localstripe's webhooks).
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CHAIRSIDE_DEMO_URL": url.rstrip("/")}
        env.setdefault("SITE_URL", url.rstrip("/"))  # links in the demo's emails point at this portal
        peers: list[str] = []
        for proc in demo_processes():
            with sup.critical():  # a peer that started is recorded before a stop is acted on
                started = proc.start(env)
                if started is not None:
                    name, popen, extra_env = started
                    sup.adopt(name, popen)
                    env.update(extra_env)
                    peers.append(name)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        if not no_worker:
            sup.launch("worker", [*manage, "qcluster"], env)
        sup.launch("web", [*manage, "runserver", f"{addr}:{port}", "--noreload"], env)

        if not self._wait_until_up(sup, url):
            return sup.exited() or sup.children[-1]
        self._settle(sup, no_worker=no_worker)
        self._banner(sup, url, peers)
        sup.live = True
        while (stopped := sup.exited()) is None:
            time.sleep(0.3)
        return stopped

    def _wait_until_up(self, sup: Supervisor, url: str) -> bool:
        import requests

        host = url.split("//", 1)[1].rsplit(":", 1)[0]
        probe = url.replace(host, "127.0.0.1", 1) if host in ("0.0.0.0", "[::]", "") else url
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if sup.exited() is not None:
                return False
            try:
                requests.get(f"{probe}accounts/login/", timeout=2)
                return True
            except requests.RequestException:
                time.sleep(0.2)
        sup.say(f"The web server did not answer at {url} within {READY_TIMEOUT:.0f}s.")
        return False

    def _settle(self, sup: Supervisor, *, no_worker: bool) -> None:
        """Let the worker send what the seed queued (the demo's emails print in the worker's output) so
        that it isn't printed after, and in the middle of, the lines that say where the portal is."""
        if no_worker:
            return
        from django_q.brokers import get_broker

        broker = get_broker()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline and sup.exited() is None:
            try:
                queued = broker.queue_size()
            except Exception:  # the broker is only asked to be polite about timing; never fail on it
                queued = 0
            if not queued and time.monotonic() - sup.last_output > 1.0:
                return
            time.sleep(0.2)

    def _banner(self, sup: Supervisor, url: str, peers: list[str]) -> None:
        rule = "=" * 72
        sup.say("")
        sup.say(rule)
        logs = ", ".join(str(c.log_path) for c in sup.children if c.log_path)
        sup.say(f"Logs: {logs} (from now on their output shows here too)")
        if peers:
            sup.say(f"Also running for the demo: {', '.join(peers)} (see the lines above).")
        sup.say(f"API docs {url}api/v1/docs/   Django admin {url}admin/ (manager)")
        sup.say("Ctrl-C stops everything.")
        sup.say(rule)
        sup.say(f"Chairside demo is running at {url}")
        for username, (password, group) in DEMO_LOGINS.items():
            sup.say(f"  {group:<11} log in as {username} / {password}")
        sup.say(rule)
