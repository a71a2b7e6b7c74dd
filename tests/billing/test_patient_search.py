"""Patient search finds a patient by every format the app itself prints (issue 8, front desk)."""

from datetime import date, timedelta

import phonenumbers
import pytest
import time_machine
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing.selectors.patients import parse_date, patient_search
from billing.validators import format_phone
from tests.billing.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def camila():
    other = PatientFactory(first_name="Camila", last_name="Stone", date_of_birth=date(1961, 5, 1), phone="+13125550199")
    PatientFactory(first_name="Kenji", last_name="Tanaka", date_of_birth=date(1990, 1, 2), phone="+13125559876")
    assert other.pk
    return PatientFactory(
        first_name="Camila", last_name="Tanaka", date_of_birth=date(1961, 4, 30), phone="+12175551001"
    )


@pytest.mark.parametrize(
    "q",
    [
        "(217) 555-1001",  # the phone as the patient page prints it
        "555 1001",
        "555-1001",
        "217.555.1001",
        "+1 217 555 1001",
        "2175551001",
        "Tanaka, Camila",  # the name as the results list prints it
        "tanaka,camila",
        "Camila Tanaka",
        "4/30/61",  # two-digit year: the century that puts the date in the past
        "04/30/1961",
        "1961-04-30",
        "04-30-1961",
        "Tanaka 4/30/61",
        "camila (217) 555-1001",
        "Tanaka, Camila 1961-04-30 555 1001",
    ],
)
def test_search_page_finds_a_patient_by_what_the_app_prints(front_desk_client, camila, q):
    page = front_desk_client.get(reverse("console:patient_search"), {"q": q}).content.decode()
    assert "Tanaka, Camila" in page, q
    assert "Stone, Camila" not in page and "Tanaka, Kenji" not in page, q


def test_search_narrows_by_every_part(camila):
    assert list(patient_search(q="Tanaka, Camila 1990-01-02")) == []
    assert list(patient_search(q="Tanaka 555 0199")) == []


def test_a_date_that_does_not_exist_matches_no_one(camila):
    assert list(patient_search(q="2/30/61")) == []


@time_machine.travel(date(2026, 3, 1), tick=False)
def test_two_digit_year_picks_the_century_that_is_not_in_the_future():
    assert parse_date("4/30/61") == date(1961, 4, 30)
    assert parse_date("2/28/26") == date(2026, 2, 28)
    assert parse_date("3/1/26") == date(2026, 3, 1)  # today is not in the future
    assert parse_date("3/2/26") == date(1926, 3, 2)
    assert parse_date("12/31/05") == date(2005, 12, 31)


def test_a_name_of_several_words_is_found_as_printed():
    PatientFactory(first_name="María José", last_name="de la Cruz")
    assert [p.last_name for p in patient_search(q="de la Cruz, María José")] == ["de la Cruz"]
    assert [p.last_name for p in patient_search(q="Cruz Jose")] == []  # accents are the patient's own
    assert [p.last_name for p in patient_search(q="Cruz José")] == ["de la Cruz"]


# --- Property: whatever the app prints for a patient finds that patient --------------------------------
NAME_PART = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZáéíñöüçÁÉÑØ"), min_size=1, max_size=8
)
NAME = st.builds(
    lambda parts, sep: sep.join(parts), st.lists(NAME_PART, min_size=1, max_size=3), st.sampled_from([" ", "-", "'"])
)


def _e164(region: str, national: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(national, region), phonenumbers.PhoneNumberFormat.E164)


US_PHONE = st.builds(
    lambda area, exchange, line: f"+1{area}{exchange}{line:04d}",
    st.sampled_from(["217", "312", "415", "646", "808", "907"]),
    st.integers(200, 999),
    st.integers(0, 9999),
)
OTHER_PHONE = st.sampled_from(
    [
        phonenumbers.format_number(phonenumbers.example_number(region), phonenumbers.PhoneNumberFormat.E164)
        for region in ("GB", "DE", "FR", "MX", "JP", "CA")
    ]
)


def printed_dates(born: date) -> list[str]:
    """The date of birth as the templates print it (``|date:"Y-m-d"``) and as staff retype it."""
    return [born.isoformat(), f"{born:%m/%d/%Y}", f"{born.month}/{born.day}/{born:%y}"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=NAME,
    last=NAME,
    phone=st.one_of(US_PHONE, OTHER_PHONE),
    born=st.dates(min_value=date.today() - timedelta(days=365 * 99), max_value=date.today()),
    data=st.data(),
)
def test_anything_the_app_prints_for_a_patient_finds_that_patient(db, first, last, phone, born, data):
    assume(phonenumbers.is_valid_number(phonenumbers.parse(phone, None)))
    patient = PatientFactory(first_name=first, last_name=last, phone=phone, date_of_birth=born)
    shown = {
        "results list": f"{patient.last_name}, {patient.first_name}",
        "patient page": patient.full_name,
        "phone": format_phone(patient.phone),
        "born": data.draw(st.sampled_from(printed_dates(born)), label="born as typed"),
    }
    for how, q in shown.items():
        assert patient_search(q=q).filter(pk=patient.pk).exists(), (how, q)
    mix = " ".join(data.draw(st.permutations(list(shown.values())), label="mixed"))
    assert patient_search(q=mix).filter(pk=patient.pk).exists(), mix
