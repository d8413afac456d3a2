from datetime import UTC, datetime, timedelta

import pytest

from engine.analytics import (
    Increment,
    bucket_of,
    bucket_upper,
    capture_increments,
    holt_forecast,
    percentile,
    slice_metrics,
    sliced,
    status_increments,
    unsold_increments,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("seconds", [0.2, 1, 1.3, 59, 3600, 86400 * 3, 86400 * 40])
def test_a_duration_falls_in_the_bucket_that_bounds_it(seconds):
    bucket = bucket_of(seconds)
    assert seconds <= bucket_upper(bucket)
    assert bucket == 0 or seconds > bucket_upper(bucket - 1)


def test_percentiles_from_buckets_are_within_an_eighth_of_the_exact_value():
    durations = [60 * (1 + i % 97) + 3 * i for i in range(5000)]
    histogram: dict[int, int] = {}
    for d in durations:
        histogram[bucket_of(d)] = histogram.get(bucket_of(d), 0) + 1
    ordered = sorted(durations)
    for q in (0.5, 0.9):
        exact = ordered[int(q * len(ordered)) - 1]
        assert abs(percentile(histogram, q) - exact) / exact < 0.125


def test_no_durations_no_percentile():
    assert percentile({}, 0.5) is None


def test_capture_counts_the_sale_and_every_other_counter_once_per_slice():
    order = {
        "channel": "web",
        "total": 28.5,
        "shipping_address": {"country": "DE"},
        "lines": [{"sku": "MUG", "qty": 3, "price": 9.5}],
    }
    increments = capture_increments(order, "approve", [])
    assert increments[0] == Increment("orders", "web", "DE", 1, 28.5)
    slices = ("", "|c=web", "|n=DE", "|c=web,n=DE")
    assert increments[1:] == [
        *(Increment(f"status{s}", "received") for s in slices),
        *(Increment(f"sku{s}", "MUG", "", 3, 28.5) for s in slices),
        *(Increment(f"audit{s}", "approve") for s in slices),
    ]


def test_a_held_order_counts_the_rules_that_held_it_not_the_tags():
    fired = [{"rule": "new_address_high_value", "action": "review"}, {"rule": "vip", "action": "tag"}]
    increments = capture_increments({"channel": "phone", "lines": []}, "review", fired)
    assert Increment("hold_reason", "new_address_high_value", "review") in increments
    assert Increment("hold_reason|c=phone", "new_address_high_value", "review") in increments
    assert not any(i.k1 == "vip" for i in increments)


@pytest.mark.parametrize(
    "channels, country, names",
    [
        ((), None, ["status"]),
        (("web",), None, ["status|c=web"]),
        ((), "FR", ["status|n=FR"]),
        (("web", "shop"), "FR", ["status|c=web,n=FR", "status|c=shop,n=FR"]),
    ],
)
def test_a_filter_reads_the_slices_the_order_was_counted_in(channels, country, names):
    assert slice_metrics("status", channels, country) == names
    counted = {i.metric for i in sliced([Increment("status", "shipped")], "web", "FR")}
    assert (set(names) <= counted) == (set(channels) <= {"web"} and country in (None, "FR"))


def test_an_unsold_order_takes_its_sale_back_and_is_counted_apart():
    order = {"total": 30.0, "lines": [{"sku": "MUG", "qty": 2, "price": 9.5}, {"sku": "CAP", "qty": 0, "price": 4}]}
    increments = unsold_increments(order, "web", "FR")
    assert increments[:2] == [Increment("orders", "web", "FR", -1, -30.0), Increment("unsold", "web", "FR", 1, 30.0)]
    assert increments[2:] == [
        Increment(f"sku{s}", "MUG", "", -2, -19.0) for s in ("", "|c=web", "|n=FR", "|c=web,n=FR")
    ]


def test_reaching_a_status_counts_it_and_the_stage_it_ends():
    milestones = {"reserved": (T0 + timedelta(minutes=5)).isoformat()}
    shipped = T0 + timedelta(hours=3, minutes=5)
    increments = status_increments("shipped", shipped, T0, milestones)
    assert increments[0] == Increment("status", "shipped")
    stage = increments[1]
    assert (stage.metric, stage.k1, stage.amount) == ("stage", "approved to shipped", 3 * 3600)
    assert int(stage.k2) == bucket_of(3 * 3600)


def test_the_first_stage_runs_from_capture():
    increments = status_increments("reserved", T0 + timedelta(seconds=90), T0, {})
    assert increments[1].k1 == "capture to approved" and increments[1].amount == 90


def test_a_stage_whose_start_was_never_reached_is_not_counted():
    assert status_increments("delivered", T0, T0, {}) == [Increment("status", "delivered")]


def test_holt_follows_a_trend_and_never_forecasts_negative_sales():
    rising = holt_forecast([10, 12, 14, 16, 18, 20], 3)
    assert rising[0] > 20 and rising[0] < rising[1] < rising[2]
    falling = holt_forecast([9, 6, 3, 1], 4)
    assert all(v >= 0 for v in falling) and falling[-1] == 0
    assert holt_forecast([], 2) == [0.0, 0.0] and holt_forecast([5], 2) == [5, 5]


@pytest.mark.parametrize(
    "ready, shipped, on_time",
    [
        ("2026-11-02T09:00", "2026-11-02T15:00", True),  # ready before the cut-off, out the same day
        ("2026-11-02T09:00", "2026-11-03T08:00", False),  # ... but only the next morning
        ("2026-11-02T17:30", "2026-11-03T11:00", True),  # ready after the cut-off: the next day is on time
        ("2026-11-02T17:30", "2026-11-04T09:00", False),
    ],
)
def test_on_time_against_the_cut_off(ready, shipped, on_time):
    from engine.analytics import shipped_on_time

    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)  # noqa: E731
    assert shipped_on_time(at(ready), at(shipped), "16:00") is on_time


def test_a_return_counts_units_and_value_per_sku_and_reason():
    from engine.analytics import return_increments

    assert return_increments([{"sku": "MUG", "qty": 2, "price": 9.5}], "damaged") == [
        Increment("return", "MUG", "damaged", 2, 19.0)
    ]
