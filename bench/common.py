"""Shared helpers for benchmarks: a fresh PostgreSQL database, Django set-up, timing, memory, servers."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/chairside_bench"


@dataclass
class Figure:
    """One printed line: a measured value beside the baseline measured in the same run."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    goal: str = ""
    ok: bool | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)


def fresh_database(url: str | None = None) -> str:
    """Drop and recreate the benchmark database, then migrate it. Returns its URL."""
    import psycopg

    url = url or database_url()
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=django_env(url))
    return url


def django_env(url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DATABASE_URL": url or database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def setup_django(url: str | None = None) -> None:
    os.environ.update(django_env(url))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def median_time(fn: Callable[[], object], repeats: int = 5) -> tuple[float, list[float]]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), samples


def peak_rss_mb(pid: int) -> float:
    """High-water mark of a live process's resident memory (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def start_gunicorn(
    url: str, *, workers: int = 2, threads: int = 1, port: int | None = None, log_path: Path | None = None, **env: str
):
    """A real gunicorn serving the portal on loopback; returns (Popen, base_url). With ``log_path`` the
    server's output goes to that file instead of the benchmark's report."""
    port = port or free_port()
    log = None
    if log_path is not None:
        log_path.parent.mkdir(exist_ok=True)
        log = open(log_path, "w")  # noqa: SIM115 - handed to the child process, closed when it exits
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=django_env(url, **env),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    wait_for_port(port)
    return proc, f"http://127.0.0.1:{port}"
