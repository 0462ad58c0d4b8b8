"""Beat's side of the synthetic refund (issue 16): the schedule entry, and the task's guards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from operations.models import SyntheticRun
from operations.tasks import synthetic_refund
from tests.support.child_process import ROOT

pytestmark = pytest.mark.django_db


def beat_entry(**env: str) -> str:
    """The synthetic entry of CELERY_BEAT_SCHEDULE as a fresh process reads its settings from `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHETIC_")}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE.get('synthetic-refund'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_beat_runs_it_only_when_enabled():
    assert beat_entry() == "None"
    entry = beat_entry(SYNTHETIC_ENABLED="1", SYNTHETIC_INTERVAL_SECONDS="42")
    assert "'task': 'operations.synthetic_refund'" in entry and "'schedule': 42.0" in entry


def test_a_live_key_is_refused_by_the_task_too(settings):
    settings.PROVIDER_API_KEY = "sk_live_" + "z" * 24
    settings.PROVIDER_API_BASE = "http://127.0.0.1:9"  # discard: nothing may be sent anyway

    assert synthetic_refund() is False
    assert SyntheticRun.objects.get().error.startswith("refused:")


def test_a_run_in_progress_is_not_doubled(settings):
    settings.PROVIDER_API_KEY = "sk_live_" + "z" * 24
    SyntheticRun.objects.create(provider="stripe")  # started now, not finished

    assert synthetic_refund() is None
    assert SyntheticRun.objects.count() == 1
