import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # live_server + Playwright's page in one test

import pytest
from django.conf import settings
from django.core.cache import cache

from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP
from tests.billing.factories import UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL); SQLite lacks it")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters must not leak between tests
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_sms_outbox():
    from billing.notifications import sms

    sms.outbox.clear()


@pytest.fixture
def front_desk(db):
    return UserFactory(username="frontdesk", role=FRONT_DESK_GROUP)


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=MANAGER_GROUP)


@pytest.fixture
def front_desk_client(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- Browser tests (Playwright driving Debian's chromium; never a downloaded browser) -------------------
CHROMIUM = os.environ.get("CHAIRSIDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_HINT = "install it with `sudo apt-get install chromium` (Debian/Ubuntu; .ci/run does this)"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium(path: str = CHROMIUM) -> None:
    """No chromium: under CI (``CI`` set, as .ci/run and every CI service do) the browser tests fail,
    since a green run must have run them; on a developer's machine they skip and say how to install it."""
    if os.path.exists(path):
        return
    message = f"browser tests need chromium at {path}: {CHROMIUM_HINT}"
    if under_ci():
        pytest.fail(f"CI is set and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def screenshot_dir(request):
    """Screenshots land in test-results/<test name>/ so a failing run can be looked at."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "test-results" / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


def browser_login(page, live_server, username: str, password: str = "correct horse battery") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/console/")
