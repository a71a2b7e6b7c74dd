import pytest

from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_logs_in_and_sees_today(page, live_server, front_desk, screenshot_dir):
    browser_login(page, live_server, "frontdesk")
    assert page.get_by_role("heading", name="Today", exact=True).is_visible()
    page.screenshot(path=screenshot_dir / "today.png", full_page=True)
