"""Webhook ingest: N signed Stripe events (30% of deliveries are repeats, all shuffled) posted to a real
gunicorn on PostgreSQL, processed by a real django-q2 cluster (Redis broker), beside the rate of a bare
single-row INSERT of the same payloads into the same database, measured in the same run.

Figures:
- receive: deliveries per second until every POST was answered;
- receive+process: deliveries per second until every stored event was processed (the goal compares this
  with the bare insert: at least half its rate);
- 0 double posts (ledger entries == distinct payments and refunds sent) and 0 lost (every event stored
  once and processed);
- the worker's peak memory (VmHWM of the largest django-q2 process) after 2,000 and after 20,000 events:
  it must not grow with the number of events.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from bench.common import ROOT, Figure, database_url, django_env, fresh_database, setup_django, start_gunicorn

SECRET = "whsec_bench_webhooks"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
CLIENT_THREADS = 8
CUSTOMERS = 300
STACK = {
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_API_BASE": "http://127.0.0.1:9",
    "Q_BROKER": "redis",
    "REDIS_URL": REDIS_URL,
    "Q_WORKERS": "2",
    # Persistent connections, as in production: a new PostgreSQL connection per request costs more than
    # the request itself.
    "DB_CONN_MAX_AGE": "60",
}


def _own_database() -> str:
    """This module's own database beside the others' (bench/README: each module builds its own)."""
    base = database_url()
    return base.rsplit("/", 1)[0] + "/chairside_bench_webhooks"


# --- Events ---------------------------------------------------------------------------------------------------
def _events(n_deliveries: int, customers: list[str], rng: random.Random) -> tuple[list[bytes], dict]:
    """Deliveries (raw JSON bodies), 30% of them repeats of others, shuffled; and what they should post.

    Most payments are subscription invoices, and Stripe sends two events for each paid one
    (``invoice.paid`` and ``invoice.payment_succeeded``); both are sent here, shuffled apart, half of the
    invoices in the old (acacia) shape and half in the new (basil) one. Two workers' batches then hold the
    two events of many invoices in opposite orders: the case that used to deadlock."""
    unique = round(n_deliveries * 0.7)
    now = int(time.time())
    events, intents = [], []
    expected = {"payments": 0, "refunds": 0, "unique": unique, "invoices": 0}

    def add(kind: str, obj: dict) -> None:
        events.append(
            {
                "id": f"evt_bench{len(events):07d}",
                "object": "event",
                "api_version": "2025-03-31.basil" if "parent" in obj else "2025-02-24.acacia",
                "created": now,
                "livemode": False,
                "type": kind,
                "data": {"object": obj},
            }
        )

    i = 0
    while len(events) < unique:
        i += 1
        roll = rng.random()
        customer = rng.choice(customers)
        if roll < 0.70 and len(events) + 2 <= unique:
            obj = _invoice(i, customer, now, shape="basil" if i % 2 else "acacia")
            add("invoice.paid", obj)
            add("invoice.payment_succeeded", obj)
            expected["payments"] += 1
            expected["invoices"] += 1
        elif roll < 0.85 or not intents:
            obj = _intent(i, customer, now)
            intents.append(obj)
            add("payment_intent.succeeded", obj)
            expected["payments"] += 1
        elif roll < 0.90:
            paid = rng.choice(intents)
            add(
                "refund.created",
                {
                    "id": f"re_bench{i:07d}",
                    "object": "refund",
                    "amount": 1000,
                    "currency": "usd",
                    "status": "succeeded",
                    "created": now,
                    "payment_intent": paid["id"],
                    "charge": paid["latest_charge"],
                },
            )
            expected["refunds"] += 1
        else:
            add("customer.updated", {"id": customer, "object": "customer", "email": "someone@example.com"})
    bodies = [json.dumps(e).encode() for e in events]
    deliveries = bodies + [rng.choice(bodies) for _ in range(n_deliveries - unique)]
    rng.shuffle(deliveries)
    return deliveries, expected


def _invoice(i: int, customer: str, now: int, shape: str = "acacia") -> dict:
    obj = {
        "id": f"in_bench{i:07d}",
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "amount_due": 2500,
        "amount_paid": 2500,
        "currency": "usd",
        "created": now,
        "attempt_count": 1,
        "attempted": True,
        "metadata": {},
        "status_transitions": {"paid_at": now, "finalized_at": now},
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_bench{i:07d}",
                    "object": "line_item",
                    "amount": 2500,
                    "quantity": 1,
                    "description": "Membership",
                    "period": {"start": now, "end": now + 2592000},
                }
            ],
        },
    }
    line = obj["lines"]["data"][0]
    if shape == "acacia":
        obj.update(subscription=f"sub_bench{i:07d}", payment_intent=f"pi_inv{i:07d}", charge=f"ch_inv{i:07d}")
        line["plan"] = {"id": "plan_basic", "object": "plan", "metadata": {"chairside_code": "MEM-B"}}
    else:  # API 2025-03-31 "basil" on: parent.subscription_details and invoice.payments
        obj["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": f"sub_bench{i:07d}"}}
        obj["payments"] = {
            "object": "list",
            "data": [{"status": "paid", "payment": {"type": "payment_intent", "payment_intent": f"pi_inv{i:07d}"}}],
        }
        line["pricing"] = {"type": "price_details", "price_details": {"price": "price_basic"}}
        line["metadata"] = {"chairside_code": "MEM-B"}
    return obj


def _intent(i: int, customer: str, now: int) -> dict:
    return {
        "id": f"pi_bench{i:07d}",
        "object": "payment_intent",
        "customer": customer,
        "status": "succeeded",
        "amount": 8000,
        "amount_received": 8000,
        "currency": "usd",
        "created": now,
        "invoice": None,
        "latest_charge": f"ch_bench{i:07d}",
        "payment_method": f"pm_bench{i:07d}",
        "metadata": {},
    }


def _signed(body: bytes) -> tuple[bytes, str]:
    from billing.stripe.gateway import sign_webhook

    return body, sign_webhook(body, secret=SECRET)


# --- Processes ------------------------------------------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Cluster:
    """`manage.py qcluster` on the Redis broker; remembers the peak RSS of its processes while it runs."""

    def __init__(self, url: str):
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=django_env(url, **STACK),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.peak = 0.0
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)
        self._watch.start()

    def _sample(self):
        while not self._stop.is_set():
            for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
                self.peak = max(self.peak, _hwm_mb(pid))
            time.sleep(0.5)

    def stop(self) -> float:
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            self.peak = max(self.peak, _hwm_mb(pid))
        self._stop.set()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.peak


# --- One run --------------------------------------------------------------------------------------------------
def _reset(url: str) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE billing_stripeevent, billing_striperefund, billing_stripedispute, billing_stripepayment, "
            "billing_ledgerentry, billing_auditevent, billing_stafftask, billing_message, django_q_task, "
            "django_q_ormq RESTART IDENTITY CASCADE"
        )


def _post_all(base: str, deliveries: list[tuple[bytes, str]], path: str = "/stripe/webhook/") -> tuple[float, int]:
    """POST every delivery from CLIENT_THREADS threads. The client is plain http.client on kept-alive
    connections: on a 2-core machine a heavier client (requests) takes CPU the server under test needs."""
    import http.client
    from urllib.parse import urlparse

    host, port = urlparse(base).hostname, urlparse(base).port
    chunks = [deliveries[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]
    failures = [0] * CLIENT_THREADS

    def post(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        for body, header in chunks[k]:
            conn.request(
                "POST", path, body=body, headers={"Content-Type": "application/json", "Stripe-Signature": header}
            )
            response = conn.getresponse()
            response.read()
            failures[k] += response.status != 200
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=post, args=(k,)) for k in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(failures)


def _django_floor_rate(base: str, deliveries: list[tuple[bytes, str]]) -> float:
    """The same POSTs to a URL nothing serves (a 404 from Django's own stack): what any Django endpoint
    costs on this machine, before our work. Context for the receive figure, not a goal."""
    elapsed, _ = _post_all(base, deliveries, path="/no-such-endpoint/")
    return len(deliveries) / elapsed


def _counts(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('processed', 'ignored')), "
            "(SELECT count(*) FROM billing_ledgerentry WHERE kind = 'payment'), "
            "(SELECT count(*) FROM billing_ledgerentry WHERE kind = 'refund'), "
            "(SELECT count(DISTINCT external_ref) FROM billing_ledgerentry), "
            # Invoice and payment-intent events never wait for another object: a second attempt is a retry
            # after a failure (a deadlock, say); a failed event is one still to retry.
            "count(*) FILTER (WHERE (type LIKE 'invoice.%' OR type LIKE 'payment_intent.%') AND attempts > 1)"
            " + count(*) FILTER (WHERE status = 'failed'), "
            "(SELECT count(*) FROM billing_ledgerentry WHERE kind = 'payment' AND external_ref LIKE 'in_%'), "
            "(SELECT count(DISTINCT external_ref) FROM billing_ledgerentry WHERE external_ref LIKE 'in_%') "
            "FROM billing_stripeevent"
        ).fetchone()
    names = ["stored", "done", "payments", "refunds", "distinct_refs", "retried", "invoice_posts", "invoices_posted"]
    return dict(zip(names, row, strict=True))


def _deadlocks(url: str) -> int:
    """PostgreSQL's own count of deadlocks detected in this database (pg_stat_database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def _one_run(url: str, base: str, n: int, customers: list[str], seed: int) -> dict:
    _reset(url)
    bodies, expected = _events(n, customers, random.Random(seed))
    deliveries = [_signed(b) for b in bodies]
    deadlocks_before = _deadlocks(url)
    cluster = Cluster(url)
    time.sleep(2.0)  # let the cluster's workers start before the clock does
    started = time.perf_counter()
    receive_s, refused = _post_all(base, deliveries)
    deadline = time.monotonic() + max(120, n / 20)
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            # Cheap on purpose (an index range on status): the poll must not slow what it measures.
            left = conn.execute(
                "SELECT count(*) FROM billing_stripeevent WHERE status IN ('received', 'waiting', 'failed')"
            ).fetchone()[0]
            stored = conn.execute("SELECT max(id) FROM billing_stripeevent").fetchone()[0] or 0
            if left == 0 and stored >= expected["unique"]:
                break
            time.sleep(0.2)
    total_s = time.perf_counter() - started
    peak = cluster.stop()
    counts = _counts(url)
    time.sleep(0.6)  # PostgreSQL 15 flushes its statistics at most every 0.5 s
    return {
        "deadlocks": _deadlocks(url) - deadlocks_before,
        "retried": counts["retried"],
        "invoices": expected["invoices"],
        "invoice_double_or_missing": abs(counts["invoice_posts"] - expected["invoices"])
        + (counts["invoice_posts"] - counts["invoices_posted"]),
        "receive_rate": n / receive_s,
        "total_rate": n / total_s,
        "refused": refused,
        "lost": expected["unique"] - counts["done"],
        "double_posts": (counts["payments"] - expected["payments"])
        + (counts["refunds"] - expected["refunds"])
        + (counts["payments"] + counts["refunds"] - counts["distinct_refs"]),
        "missing_posts": max(expected["payments"] - counts["payments"], 0)
        + max(expected["refunds"] - counts["refunds"], 0),
        "stored": counts["stored"],
        "expected_unique": expected["unique"],
        "peak_rss_mb": peak,
    }


def _bare_insert_rate(url: str, n: int, customers: list[str], seed: int) -> float:
    """The same payloads, one INSERT each, autocommit, one connection: the database's own pace."""
    bodies, _ = _events(n, customers, random.Random(seed))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_insert")
        conn.execute("CREATE TABLE bench_bare_insert (id bigserial PRIMARY KEY, payload text NOT NULL)")
        started = time.perf_counter()
        for body in bodies:
            conn.execute("INSERT INTO bench_bare_insert (payload) VALUES (%s)", (body.decode(),))
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare_insert")
    return n / elapsed


def _seed_customers(n: int) -> list[str]:
    from billing.models import Household, Location, Patient, StripeCustomer
    from billing.selectors.practice import practice_get

    location = Location.objects.create(practice=practice_get(), name="Bench", slug="bench", time_zone="America/Chicago")
    households = Household.objects.bulk_create([Household(name=f"Bench {i}") for i in range(n)])
    patients = Patient.objects.bulk_create(
        [
            Patient(
                first_name="Pat", last_name=f"Bench{i}", date_of_birth="1980-01-01", household=h, home_location=location
            )
            for i, h in enumerate(households)
        ]
    )
    for h, p in zip(households, patients, strict=True):
        h.guarantor = p
    Household.objects.bulk_update(households, ["guarantor"])
    StripeCustomer.objects.bulk_create(
        [
            StripeCustomer(guarantor=p, household=h, stripe_id=f"cus_bench{i:05d}")
            for i, (h, p) in enumerate(zip(households, patients, strict=True))
        ]
    )
    return [f"cus_bench{i:05d}" for i in range(n)]


def run(quick: bool) -> list[Figure]:
    url = fresh_database(_own_database())
    setup_django(url)
    customers = _seed_customers(CUSTOMERS)
    n = 2000
    repeats = 1 if quick else 3
    # BENCH_WEBHOOKS_LARGE=0 skips the memory run (a short storm-only run on a busy machine).
    big = int(os.environ.get("BENCH_WEBHOOKS_LARGE", 5000 if quick else 20000))
    server, base = start_gunicorn(url, workers=2, threads=4, **STACK)
    try:
        runs = [_one_run(url, base, n, customers, seed=s) for s in range(repeats)]
        floor_bodies, _ = _events(n, customers, random.Random(7))
        floor = statistics.median(
            _django_floor_rate(base, [_signed(b) for b in floor_bodies]) for _ in range(max(repeats, 3))
        )
        bare = [_bare_insert_rate(url, n, customers, seed=s) for s in range(max(repeats, 3))]
        large = _one_run(url, base, big, customers, seed=99) if big else None
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    receive = statistics.median(r["receive_rate"] for r in runs)
    total = statistics.median(r["total_rate"] for r in runs)
    bare_rate = statistics.median(bare)
    every = [*runs, large] if large else runs
    doubles = sum(r["double_posts"] for r in every)
    lost = sum(r["lost"] + r["missing_posts"] + r["refused"] for r in every)
    deadlocks = sum(r["deadlocks"] for r in every)
    retried = sum(r["retried"] for r in every)
    invoice_errors = sum(r["invoice_double_or_missing"] for r in every)
    small_rss = statistics.median(r["peak_rss_mb"] for r in runs)
    note = (
        f"{n} deliveries ({round(n * 0.7)} events + 30% repeats), {CLIENT_THREADS} client threads, medians of {repeats}"
    )
    figures = [
        Figure(
            "webhooks: receive",
            receive,
            "events/s",
            bare_rate,
            "bare INSERT/s",
            note=note,
            samples=[r["receive_rate"] for r in runs],
        ),
        Figure(
            "webhooks: receive + process",
            total,
            "events/s",
            bare_rate,
            "bare INSERT/s",
            goal=">= 0.5x",
            ok=total >= 0.5 * bare_rate,
            samples=[r["total_rate"] for r in runs],
        ),
        Figure(
            "context: Django's floor (same POSTs, a 404)",
            floor,
            "req/s",
            bare_rate,
            "bare INSERT/s",
            note="an endpoint that does nothing, through the same gunicorn and middleware: receive can't beat it",
        ),
        Figure("webhooks: double posts", doubles, "entries", goal="0", ok=doubles == 0),
        Figure("webhooks: lost (not stored, not processed, refused)", lost, "events", goal="0", ok=lost == 0),
        Figure(
            "webhooks: deadlocks (2 queue workers)",
            deadlocks,
            "deadlocks",
            goal="0",
            ok=deadlocks == 0,
            note="PostgreSQL's pg_stat_database.deadlocks for the run's database",
        ),
        Figure(
            "webhooks: events retried after a failure",
            retried,
            "events",
            goal="0",
            ok=retried == 0,
            note="invoice and payment-intent events with a second attempt, plus any left failed",
        ),
        Figure(
            "webhooks: invoices not posted exactly once",
            invoice_errors,
            "invoices",
            goal="0",
            ok=invoice_errors == 0,
            note=f"{runs[0]['invoices']} invoices per {n} deliveries, each sent as invoice.paid and "
            "invoice.payment_succeeded, half in each payload shape",
        ),
        Figure(f"worker peak RSS, {n} events", small_rss, "MiB"),
    ]
    if large is None:
        return figures
    return [
        *figures,
        Figure(
            f"worker peak RSS, {big} events",
            large["peak_rss_mb"],
            "MiB",
            small_rss,
            f"at {n}",
            goal="no growth (<= 1.1x)",
            ok=large["peak_rss_mb"] <= 1.1 * small_rss,
            note=f"{big} deliveries: receive {large['receive_rate']:.0f}/s, "
            f"receive+process {large['total_rate']:.0f}/s",
        ),
    ]
