from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from scheduling.models import AppointmentStatus, Block
from scheduling.selectors.availability import CalendarSnapshot, day_bounds, nearest_slots, online_slots
from tests.billing.factories import LocationFactory
from tests.scheduling.conftest import CHICAGO, TUESDAY, at
from tests.scheduling.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    BlockFactory,
    OperatoryFactory,
    ProviderFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


def starts(slots, provider=None) -> list[str]:
    return [
        s.start.astimezone(CHICAGO).strftime("%H:%M") for s in slots if provider is None or s.provider_id == provider.pk
    ]


def day_slots(clinic, day=TUESDAY, appointment_type=None, **kw):
    return online_slots(
        location=clinic.location, appointment_type=appointment_type or clinic.type, first_day=day, last_day=day, **kw
    ).get(day, [])


def test_slots_step_through_each_providers_working_hours_in_local_time(clinic, frozen):
    slots = day_slots(clinic)
    lee, ortiz = clinic.providers
    # 60-minute visits inside 8:00-17:00, every 15 minutes: 8:00 ... 16:00 = 33 per provider.
    assert starts(slots, lee) == [f"{h:02d}:{m:02d}" for h in range(8, 16) for m in (0, 15, 30, 45)] + ["16:00"]
    assert len(starts(slots, ortiz)) == 33
    assert slots[0].start == datetime(2026, 6, 2, 13, 0, tzinfo=UTC)  # 8:00 CDT
    assert [s.start for s in slots] == sorted(s.start for s in slots)


def test_an_appointment_and_its_clean_up_buffer_block_the_provider(clinic, frozen):
    lee = clinic.providers[0]
    AppointmentFactory(
        location=clinic.location,
        provider=lee,
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 10),
    )  # occupies 10:00-11:10 (60 minutes and a 10-minute buffer)
    lee_starts = starts(day_slots(clinic), lee)
    assert "08:45" in lee_starts and "09:00" not in lee_starts  # 9:00 + 70 min would run into 10:00
    assert "11:00" not in lee_starts and "11:15" in lee_starts  # the buffer holds the chair until 11:10
    assert "10:00" in starts(day_slots(clinic), clinic.providers[1])  # the other provider, other operatory


def test_a_buffer_before_may_start_before_opening_but_not_overlap_a_visit(clinic, frozen):
    prep = AppointmentTypeFactory(name="Implant", duration_minutes=60, buffer_before_minutes=15)
    lee = clinic.providers[0]
    AppointmentFactory(
        location=clinic.location,
        provider=lee,
        operatory=clinic.operatories[0],
        appointment_type=prep,
        start=at(TUESDAY, 9),
    )  # occupies 8:45-10:00
    lee_starts = starts(day_slots(clinic, appointment_type=prep), lee)
    assert lee_starts[:2] == ["10:15", "10:30"]  # 10:00 would need the chair from 9:45
    assert "08:00" not in lee_starts  # 8:00-9:00 overlaps the other visit's 8:45 set-up


def test_cancelled_and_expired_appointments_do_not_block(clinic, frozen):
    lee = clinic.providers[0]
    for status in (AppointmentStatus.CANCELLED, AppointmentStatus.EXPIRED, AppointmentStatus.NO_SHOW):
        AppointmentFactory(
            location=clinic.location,
            provider=lee,
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            start=at(TUESDAY, 10),
            status=status,
        )
    assert "10:00" in starts(day_slots(clinic), lee)


def test_location_wide_lunch_block_repeats_on_weekdays_and_a_provider_block_only_blocks_that_provider(clinic, frozen):
    BlockFactory(
        location=clinic.location,
        kind=Block.Kind.LUNCH,
        start=at(date(2026, 5, 25), 12),
        end=at(date(2026, 5, 25), 13),
        repeat=Block.Repeat.WEEKDAYS,
    )
    lee, ortiz = clinic.providers
    BlockFactory(location=clinic.location, provider=lee, start=at(TUESDAY, 15), end=at(TUESDAY, 16))
    slots = day_slots(clinic)
    for provider in (lee, ortiz):
        # 10:45 + 60 min + 10 min clean-up ends 11:55; 11:00 would clean up into lunch.
        assert "10:45" in starts(slots, provider)
        assert not any("11:00" <= t <= "12:45" for t in starts(slots, provider))
        assert "13:00" in starts(slots, provider)
    assert "15:00" not in starts(slots, lee) and "15:00" in starts(slots, ortiz)
    assert "13:45" in starts(slots, lee) and "14:00" not in starts(slots, lee)  # clean-up would reach 15:10
    saturday = date(2026, 6, 6)
    assert "12:00" in starts(day_slots(clinic, day=saturday), ortiz)  # weekdays only


def test_a_weekly_block_repeats_on_its_weekday_until_its_last_day(clinic, frozen):
    BlockFactory(
        location=clinic.location,
        start=at(date(2026, 5, 26), 8),
        end=at(date(2026, 5, 26), 9),
        repeat=Block.Repeat.WEEKLY,
        repeat_until=date(2026, 6, 5),
    )
    assert "08:00" not in starts(day_slots(clinic, day=TUESDAY))
    assert "08:00" in starts(day_slots(clinic, day=date(2026, 6, 3)))  # a Wednesday
    assert "08:00" in starts(day_slots(clinic, day=date(2026, 6, 9)))  # after repeat_until


def test_time_off_removes_the_providers_slots(clinic, frozen):
    lee, ortiz = clinic.providers
    TimeOffFactory(provider=lee, start=at(TUESDAY, 0), end=at(TUESDAY, 13))
    slots = day_slots(clinic)
    assert starts(slots, lee)[0] == "13:00"
    assert starts(slots, ortiz)[0] == "08:00"


def test_a_slot_needs_a_free_operatory_as_well_as_a_free_provider(clinic, frozen):
    others = [ProviderFactory(), ProviderFactory()]
    for op, provider in zip(clinic.operatories, others, strict=True):
        AppointmentFactory(
            location=clinic.location,
            provider=provider,
            operatory=op,
            appointment_type=clinic.type,
            start=at(TUESDAY, 10),
        )
    slots = day_slots(clinic)
    assert "10:00" not in starts(slots) and "08:00" in starts(slots)
    BlockFactory(location=clinic.location, operatory=clinic.operatories[0], start=at(TUESDAY, 15), end=at(TUESDAY, 16))
    assert "15:00" in starts(day_slots(clinic))  # one room blocked, the other free


def test_allowed_providers_and_operatories_narrow_the_slots(clinic, frozen):
    lee, ortiz = clinic.providers
    t = AppointmentTypeFactory(name="Hygiene")
    t.allowed_providers.set([ortiz])
    t.allowed_operatories.set([clinic.operatories[1]])
    AppointmentFactory(
        location=clinic.location,
        provider=ProviderFactory(),
        operatory=clinic.operatories[1],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    slots = day_slots(clinic, appointment_type=t)
    assert {s.provider_id for s in slots} == {ortiz.pk}
    assert "09:00" not in starts(slots)  # its only room is taken, though Op 1 is free


def test_minimum_notice_hides_slots_that_start_too_soon(clinic):
    with time_machine.travel(at(TUESDAY, 8, 5), tick=False):  # 8:05 local; notice is 120 minutes
        assert starts(day_slots(clinic))[0] == "10:15"


def test_nothing_is_offered_beyond_the_types_horizon(clinic, frozen):
    clinic.type.max_days_ahead = 10
    clinic.type.save()
    found = online_slots(
        location=clinic.location, appointment_type=clinic.type, first_day=TUESDAY, last_day=TUESDAY + timedelta(days=20)
    )
    assert max(found) == date(2026, 6, 11)  # today (June 1) + 10 days


def test_the_providers_appointment_at_another_location_blocks_them_here(clinic, frozen):
    lee = clinic.providers[0]
    elsewhere = LocationFactory(time_zone="America/Chicago")
    AppointmentFactory(
        location=elsewhere,
        provider=lee,
        operatory=OperatoryFactory(location=elsewhere),
        appointment_type=clinic.type,
        start=at(TUESDAY, 8),
    )
    assert starts(day_slots(clinic), lee)[0] == "09:15"


class TestDaylightSaving:
    """America/Chicago: clocks spring forward on Sunday 8 March 2026 and fall back on Sunday 1 November 2026."""

    def test_a_local_day_lasts_23_hours_in_spring_and_25_in_autumn(self):
        s, e = day_bounds(date(2026, 3, 8), CHICAGO)
        assert e - s == timedelta(hours=23)
        s, e = day_bounds(date(2026, 11, 1), CHICAGO)
        assert e - s == timedelta(hours=25)

    @pytest.mark.parametrize(
        ("day", "utc_hour"),
        [(date(2026, 3, 7), 14), (date(2026, 3, 8), 13), (date(2026, 10, 31), 13), (date(2026, 11, 1), 14)],
    )
    def test_nine_to_five_stays_nine_to_five_local_across_the_change(self, clinic, day, utc_hour):
        with time_machine.travel(
            datetime(2026, 3, 1, 12, tzinfo=UTC) if day.month == 3 else datetime(2026, 10, 25, 12, tzinfo=UTC)
        ):
            slots = day_slots(clinic, day=day)
        lee = clinic.providers[0]
        lee_slots = [s for s in slots if s.provider_id == lee.pk]
        assert lee_slots[0].start == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
        assert lee_slots[0].start.astimezone(CHICAGO).hour == 8
        assert lee_slots[-1].start.astimezone(CHICAGO).strftime("%H:%M") == "16:00"
        assert len(lee_slots) == 33

    def _night_shift(self, clinic, day):
        location = clinic.location
        provider = ProviderFactory(name="Night owl")
        WorkingHoursFactory(
            provider=provider, location=location, weekday=day.weekday(), start_time=time(0), end_time=time(6)
        )
        snap = CalendarSnapshot.load(
            location=location, appointment_type=clinic.type, first_day=day, last_day=day, provider_ids=[provider.pk]
        )
        return snap.slots(provider_id=provider.pk).get(day, [])

    def test_spring_forward_night_has_one_real_hour_less_and_no_2am(self, clinic):
        slots = self._night_shift(clinic, date(2026, 3, 8))
        local = [s.start.astimezone(CHICAGO).strftime("%H:%M") for s in slots]
        assert len(slots) == 17  # 00:00-06:00 local is 5 real hours: 60-minute visits every 15 minutes
        assert not any(t.startswith("02:") for t in local)
        assert local[:9] == ["00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "03:00"]
        assert all(s.end - s.start == timedelta(minutes=60) for s in slots)  # real minutes, not wall minutes

    def test_fall_back_night_has_one_real_hour_more_and_1am_twice(self, clinic):
        slots = self._night_shift(clinic, date(2026, 11, 1))
        local = [s.start.astimezone(CHICAGO) for s in slots]
        assert len(slots) == 25  # 7 real hours
        one_am = [t for t in local if t.hour == 1 and t.minute == 0]
        assert [t.tzname() for t in one_am] == ["CDT", "CST"]

    def test_an_appointment_across_the_change_blocks_its_real_duration(self, clinic):
        day = date(2026, 3, 8)
        provider = ProviderFactory()
        WorkingHoursFactory(
            provider=provider, location=clinic.location, weekday=day.weekday(), start_time=time(0), end_time=time(6)
        )
        AppointmentFactory(
            location=clinic.location,
            provider=provider,
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            start=at(day, 1, 30),
        )  # 1:30 CST + 70 min = 3:40 CDT
        snap = CalendarSnapshot.load(
            location=clinic.location,
            appointment_type=clinic.type,
            first_day=day,
            last_day=day,
            provider_ids=[provider.pk],
        )
        local = [s.start.astimezone(CHICAGO).strftime("%H:%M") for s in snap.slots(provider_id=provider.pk)[day]]
        assert "00:15" in local and "00:30" not in local  # 0:30 + 70 min (with clean-up) runs past 1:30
        assert "03:30" not in local and "03:45" in local


def test_nearest_alternatives_are_the_closest_open_times(clinic, frozen):
    lee, ortiz = clinic.providers
    for provider, op in zip(clinic.providers, clinic.operatories, strict=True):
        AppointmentFactory(
            location=clinic.location,
            provider=provider,
            operatory=op,
            appointment_type=clinic.type,
            start=at(TUESDAY, 10),
        )
    alternatives = nearest_slots(location=clinic.location, appointment_type=clinic.type, around=at(TUESDAY, 10))
    assert len(alternatives) == 3
    times = sorted(abs((s.start - at(TUESDAY, 10)).total_seconds()) for s in alternatives)
    assert times[0] == 75 * 60  # 11:15 (after 10:00-11:10), or 8:45 (before): the first free on either side
    assert all(s.start != at(TUESDAY, 10) for s in alternatives)


class TestQueryCount:
    """The availability read is a fixed number of queries: 1 day or 60, no appointments or a full book."""

    EXPECTED = 8

    def _fill(self, clinic, days: int):
        for d in range(days):
            day = TUESDAY + timedelta(days=d)
            for provider, op in zip(clinic.providers, clinic.operatories, strict=True):
                for hour in (8, 10, 13, 15):
                    AppointmentFactory(
                        location=clinic.location,
                        provider=provider,
                        operatory=op,
                        appointment_type=clinic.type,
                        start=at(day, hour),
                    )

    def test_one_empty_day(self, clinic, frozen, django_assert_num_queries):
        with django_assert_num_queries(self.EXPECTED):
            found = online_slots(
                location=clinic.location, appointment_type=clinic.type, first_day=TUESDAY, last_day=TUESDAY
            )
        assert len(found[TUESDAY]) == 66

    def test_sixty_busy_days(self, clinic, frozen, django_assert_num_queries):
        self._fill(clinic, 30)
        BlockFactory(location=clinic.location, start=at(TUESDAY, 12), end=at(TUESDAY, 13), repeat=Block.Repeat.WEEKDAYS)
        TimeOffFactory(provider=clinic.providers[0], start=at(TUESDAY, 0), end=at(TUESDAY + timedelta(days=2), 0))
        with django_assert_num_queries(self.EXPECTED):
            found = online_slots(
                location=clinic.location,
                appointment_type=clinic.type,
                first_day=TUESDAY,
                last_day=TUESDAY + timedelta(days=59),
            )
        assert max(found) == TUESDAY + timedelta(days=59) and TUESDAY not in found  # TUESDAY is fully booked
