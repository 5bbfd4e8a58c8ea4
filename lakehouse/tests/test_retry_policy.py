"""The retry policy every asset that touches S3 or Postgres shares."""

import dagster as dg

from lakehouse.config import TRANSIENT_RETRY_POLICY

OUTAGE_SECONDS = 60  # the fault tier's S3 outage (F5 in RELIABILITY.md)


def _least_waits(policy: dg.RetryPolicy) -> float:
    """The shortest total wait before the last retry: every jitter at its low end."""
    total = 0.0
    for attempt in range(1, policy.max_retries + 1):
        unjittered = dg.RetryPolicy(
            max_retries=policy.max_retries, delay=policy.delay, backoff=policy.backoff
        ).calculate_delay(attempt)
        low = unjittered - (policy.delay or 0) if policy.jitter == dg.Jitter.PLUS_MINUS else 0
        total += max(0.0, low if policy.jitter else unjittered)
    return total


def test_retries_outlast_a_one_minute_outage_with_time_to_spare() -> None:
    # The last retry comes at least 110 s after the first failure: a 60 s outage plus the
    # server's start and health check fit well inside.
    assert _least_waits(TRANSIENT_RETRY_POLICY) >= OUTAGE_SECONDS + 40


def test_the_old_budget_could_give_up_inside_the_outage() -> None:
    # Three retries of the same shape: the last one could come 40 s after the first failure,
    # inside a one-minute outage (the analytics assets had no retry policy at all).
    old = dg.RetryPolicy(
        max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )
    assert _least_waits(old) < OUTAGE_SECONDS
