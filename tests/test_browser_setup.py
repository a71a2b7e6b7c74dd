"""Browser tests never skip quietly: under CI a missing chromium fails them; locally the skip says how to
install it (issue 8)."""

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_chromium

ROOT = Path(__file__).resolve().parent.parent
MISSING = "/nonexistent/chromium"


@pytest.mark.parametrize("ci", ["1", "true", "yes"])
def test_missing_chromium_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_chromium(MISSING)


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_missing_chromium_skips_locally_saying_how_to_install_it(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium(MISSING)


def test_present_chromium_neither_skips_nor_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    browser = tmp_path / "chromium"
    browser.write_text("")
    require_chromium(str(browser))


def test_ci_script_sets_ci():
    script = (ROOT / ".ci" / "run").read_text()
    assert "\nexport CI=1" in script
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")]).returncode == 0
