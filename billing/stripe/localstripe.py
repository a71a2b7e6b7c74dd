"""Running localstripe (a local fake of Stripe's API, webhooks and Stripe.js) beside the portal: used by
the test suite's session fixture and by ``make demo``. Started with ``--from-scratch`` on a free port,
stopped by its own PID. See docs/stripe.md for what it does and doesn't do."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

WEBHOOK_ID = "chairside"
# localstripe has no way to remove a webhook: "disabling" re-registers ours for an event type that never
# happens, so nothing is delivered.
NO_EVENTS = ["chairside.disabled"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalStripe:
    process: subprocess.Popen
    port: int
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        return f"{self.url}/js.stripe.com/v3/"

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> None:
        data = {"url": url, "secret": secret}
        if events is not None:
            data["events"] = events
        response = requests.post(f"{self.url}/_config/webhooks/{WEBHOOK_ID}", json=data, timeout=5)
        response.raise_for_status()

    def disable_webhook(self) -> None:
        self.register_webhook("http://127.0.0.1:9/", "disabled", NO_EVENTS)

    def wipe(self) -> None:
        requests.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    def stop(self) -> None:
        """Stop it and wait for it (it runs in its own session, so nothing else would)."""
        if self.process.poll() is None:
            try:
                self.process.terminate()
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=5)


def start(*, port: int | None = None, log_path: Path | None = None, timeout: float = 20.0) -> LocalStripe:
    """Start localstripe and wait until it answers. Its own state file (/tmp/localstripe.pickle) is
    ignored thanks to ``--from-scratch``."""
    port = port or free_port()
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C in the demo's terminal reaches the demo, which stops it in order
    )
    stripe = LocalStripe(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {process.returncode}")
            try:
                if requests.get(stripe.js_url, timeout=1).status_code == 200:
                    return stripe
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"localstripe did not answer on port {port} within {timeout}s")
    except BaseException:  # a timeout, or a Ctrl-C while waiting: never leave it running (own session)
        stripe.stop()
        raise
