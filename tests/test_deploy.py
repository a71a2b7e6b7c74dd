"""`manage.py check --deploy` with production settings reports only what README.md explains."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPLAINED_IN_README = {"security.W021"}  # HSTS preload: the domain owner's decision (README, "Production")


def test_deploy_check_with_production_settings_is_clean():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},  # set for browser tests only
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-" + "y" * 20,
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/chairside",
        "CACHE_URL": "rediscache://127.0.0.1:6379/1",
        "Q_BROKER": "redis",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    issues = {line.split(")")[0].strip("?: (") for line in output.splitlines() if line.startswith("?: (")}
    assert result.returncode == 0, output
    assert issues <= EXPLAINED_IN_README, output


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_ALLOWED_HOSTS": "x.example"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr
