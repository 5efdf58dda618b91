"""The billing-cycle arithmetic of DESIGN.md §2, with examples and hypothesis properties."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from products.choices import CYCLE_MONTHS, BillingCycle
from products.cycles import add_cycles

MONTH_CYCLES = sorted(CYCLE_MONTHS)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("start", "cycle", "count", "expected"),
    [
        (
            datetime(2024, 1, 31, tzinfo=UTC),
            BillingCycle.MONTHLY,
            1,
            datetime(2024, 2, 29, tzinfo=UTC),
        ),
        (
            datetime(2023, 1, 31, tzinfo=UTC),
            BillingCycle.MONTHLY,
            1,
            datetime(2023, 2, 28, tzinfo=UTC),
        ),
        (
            datetime(2024, 11, 30, tzinfo=UTC),
            BillingCycle.QUARTERLY,
            1,
            datetime(2025, 2, 28, tzinfo=UTC),
        ),
        (
            datetime(2024, 2, 29, tzinfo=UTC),
            BillingCycle.ANNUALLY,
            1,
            datetime(2025, 2, 28, tzinfo=UTC),
        ),
        (
            datetime(2024, 8, 31, tzinfo=UTC),
            BillingCycle.SEMI_ANNUALLY,
            1,
            datetime(2025, 2, 28, tzinfo=UTC),
        ),
        (
            datetime(2024, 5, 15, tzinfo=UTC),
            BillingCycle.BIENNIALLY,
            1,
            datetime(2026, 5, 15, tzinfo=UTC),
        ),
        (
            datetime(2024, 5, 15, tzinfo=UTC),
            BillingCycle.TRIENNIALLY,
            1,
            datetime(2027, 5, 15, tzinfo=UTC),
        ),
        (
            datetime(2024, 12, 29, tzinfo=UTC),
            BillingCycle.WEEKLY,
            1,
            datetime(2025, 1, 5, tzinfo=UTC),
        ),
        (
            datetime(2024, 3, 31, tzinfo=UTC),
            BillingCycle.MONTHLY,
            -1,
            datetime(2024, 2, 29, tzinfo=UTC),
        ),
    ],
)
def test_examples(start, cycle, count, expected):
    assert add_cycles(start, cycle, count) == expected


def test_31_january_renews_to_29_february_then_back_to_31_march():
    february = add_cycles(datetime(2024, 1, 31, tzinfo=UTC), BillingCycle.MONTHLY)
    march = add_cycles(february, BillingCycle.MONTHLY, anchor_day=31)

    assert (february.day, march.day, march.month) == (29, 31, 3)


def test_one_time_never_expires():
    assert add_cycles(datetime(2024, 1, 1, tzinfo=UTC), BillingCycle.ONE_TIME) is None


def test_an_unknown_cycle_is_an_error():
    with pytest.raises(ValueError, match="Unknown billing cycle"):
        add_cycles(datetime(2024, 1, 1, tzinfo=UTC), "fortnightly")


def test_the_local_wall_clock_time_is_kept_across_a_daylight_saving_change():
    paris = ZoneInfo("Europe/Paris")
    with timezone.override(paris):
        start = datetime(2024, 3, 15, 10, 0, tzinfo=paris)  # CET, before the change
        later = add_cycles(start, BillingCycle.MONTHLY)

    assert later.astimezone(paris).hour == 10
    assert later.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=31, hours=-1)


@given(start=moments, cycle=st.sampled_from(MONTH_CYCLES), n=st.integers(0, 40))
def test_adding_n_cycles_one_at_a_time_equals_adding_n_at_once(start, cycle, n):
    anchor = start.day
    stepwise = start
    for _ in range(n):
        stepwise = add_cycles(stepwise, cycle, anchor_day=anchor)

    assert stepwise == add_cycles(start, cycle, n, anchor_day=anchor)


@given(start=moments, n=st.integers(0, 200))
def test_weekly_is_exactly_seven_days_a_cycle(start, n):
    stepwise = start
    for _ in range(n):
        stepwise = add_cycles(stepwise, BillingCycle.WEEKLY)

    assert stepwise == start + timedelta(days=7 * n) == add_cycles(start, BillingCycle.WEEKLY, n)


@given(start=moments, cycle=st.sampled_from(MONTH_CYCLES), n=st.integers(1, 60))
def test_the_day_never_passes_the_anchor_and_equals_it_when_the_month_has_it(start, cycle, n):
    result = add_cycles(start, cycle, n)
    anchor = start.day
    days_in_month = calendar.monthrange(result.year, result.month)[1]

    assert result.day <= anchor
    assert result.day == min(anchor, days_in_month)
    assert result.time() == start.time()
    months = (result.year - start.year) * 12 + result.month - start.month
    assert months == CYCLE_MONTHS[cycle] * n
