"""`make demo`: migrate, seed, then run the web server and the job worker side by side until Ctrl-C.

Feature apps that need a peer process for the demo (the local fake Stripe) register it in
``billing.registry`` with ``register_demo_process``; it starts first and stops last.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing.demo.seed import DEMO_LOGINS
from billing.registry import demo_processes


class Command(BaseCommand):
    help = "Run the demo portal: migrate, seed demo data, start the web server and the django-q2 worker."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Don't start the django-q2 worker.")

    def handle(self, *args, addr, port, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        call_command("seed_demo", stdout=self.stdout)

        # CHAIRSIDE_DEMO_URL lets a demo process point back at the portal (localstripe's webhooks).
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CHAIRSIDE_DEMO_URL": f"http://{addr}:{port}"}
        procs: list[tuple[str, subprocess.Popen]] = []
        try:
            for proc in demo_processes():
                started = proc.start(env)
                if started is not None:
                    name, popen, extra_env = started
                    procs.append((name, popen))
                    env.update(extra_env)
            manage = [sys.executable, "manage.py"]
            if not no_worker:
                procs.append(("worker", subprocess.Popen([*manage, "qcluster"], env=env)))
            procs.append(("web", subprocess.Popen([*manage, "runserver", f"{addr}:{port}", "--noreload"], env=env)))
            time.sleep(1.5)
            url = f"http://{addr}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"\nChairside demo is running at {url}"))
            for username, (password, group) in DEMO_LOGINS.items():
                self.stdout.write(f"  {group:<11} log in as {username} / {password}")
            self.stdout.write(f"  API docs    {url}api/v1/docs/   Admin {url}admin/ (manager)")
            self.stdout.write("Press Ctrl-C to stop.\n")
            while all(p.poll() is None for _, p in procs):
                time.sleep(0.5)
            for name, p in procs:
                if p.poll() is not None:
                    self.stderr.write(f"{name} stopped (exit {p.returncode}); shutting the demo down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo ...")
        finally:
            for _, p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            deadline = time.time() + 10
            for _, p in reversed(procs):
                try:
                    p.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
