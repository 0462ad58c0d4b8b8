"""synthetic_refund_* gauges from SyntheticRun rows (issue 16), read from the /metrics exposition."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import scrape
from operations.models import SyntheticRun


def samples() -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(scrape().decode()):
        if family.name.startswith("synthetic_refund"):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def run(*, ok: bool | None, finished_ago: float | None, seconds: float = 4.0, steps=None) -> SyntheticRun:
    now = timezone.now()
    finished = None if finished_ago is None else now - timedelta(seconds=finished_ago)
    started = (finished or now) - timedelta(seconds=seconds)
    return SyntheticRun.objects.create(
        provider="stripe", ok=ok, started_at=started, finished_at=finished, steps=steps or []
    )


def test_no_run_yet_exports_no_samples(db):
    assert samples() == {}


def test_the_last_finished_run_and_the_last_success(db):
    good = run(ok=True, finished_ago=600)
    bad = run(
        ok=False,
        finished_ago=30,
        seconds=7.5,
        steps=[{"step": "payment", "seconds": 0.4, "ok": True}, {"step": "create", "seconds": 7.1, "ok": False}],
    )
    run(ok=None, finished_ago=None)  # still running: not the last finished one

    values = samples()

    assert values[("synthetic_refund_success", ())] == 0.0
    assert values[("synthetic_refund_last_run_timestamp_seconds", ())] == bad.finished_at.timestamp()
    assert values[("synthetic_refund_last_success_timestamp_seconds", ())] == good.finished_at.timestamp()
    assert values[("synthetic_refund_duration_seconds", ())] == 7.5
    assert values[("synthetic_refund_step_seconds", (("step", "payment"),))] == 0.4
    assert values[("synthetic_refund_step_seconds", (("step", "create"),))] == 7.1


def test_a_success_after_a_failure_is_success(db):
    run(ok=False, finished_ago=400)
    latest = run(ok=True, finished_ago=5, steps=[{"step": "audit", "seconds": 2.0, "ok": True}])
    values = samples()
    assert values[("synthetic_refund_success", ())] == 1.0
    assert values[("synthetic_refund_last_success_timestamp_seconds", ())] == latest.finished_at.timestamp()
    assert values[("synthetic_refund_step_seconds", (("step", "audit"),))] == 2.0
