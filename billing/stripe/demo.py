"""`make demo` without Stripe keys: start localstripe beside the portal, point the web server and the
worker at it, and register the portal's webhook endpoint, so the demo takes real card flows end to end
(Stripe.js card fields, SetupIntents, payments, webhooks). With STRIPE_SECRET_KEY set nothing starts and
the same code talks to Stripe's test mode."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from billing.registry import DemoProcess, register_demo_process

DEMO_SECRET_KEY = "sk_test_chairside_demo"
DEMO_PUBLISHABLE_KEY = "pk_test_chairside_demo"
DEMO_WEBHOOK_SECRET = "whsec_chairside_demo"


def start_localstripe(env: dict):
    if env.get("STRIPE_SECRET_KEY"):
        return None
    from . import localstripe

    port = int(env.get("DEMO_LOCALSTRIPE_PORT") or 0) or _port_or_free(8420)
    log_dir = Path(settings.BASE_DIR) / "var"
    log_dir.mkdir(exist_ok=True)
    stripe = localstripe.start(port=port, log_path=log_dir / "localstripe.log")
    site = (
        env.get("CHAIRSIDE_DEMO_URL")
        or f"http://{os.environ.get('DEMO_ADDR', '127.0.0.1')}:{os.environ.get('DEMO_PORT', '8000')}"
    )
    stripe.register_webhook(f"{site.rstrip('/')}/stripe/webhook/", DEMO_WEBHOOK_SECRET)
    print(
        f"localstripe (a local fake Stripe) is running at {stripe.url}: "
        "card 4242 4242 4242 4242 pays, 4000 0000 0000 0341 declines."
    )
    return (
        "localstripe",
        stripe.process,
        {
            "STRIPE_SECRET_KEY": DEMO_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": DEMO_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe.url,
            "STRIPE_JS_URL": stripe.js_url,
        },
    )


def _port_or_free(port: int) -> int:
    import socket

    from .localstripe import free_port

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def register() -> None:
    register_demo_process(DemoProcess(key="billing.localstripe", start=start_localstripe))
