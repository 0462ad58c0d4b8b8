"""Beat's side of the synthetic refund (issue 16): the schedule entry, and the task's guards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from operations.models import SyntheticRun
from operations.synthetic import synthetic_run_lock
from operations.tasks import synthetic_refund
from tests.support.child_process import ROOT

pytestmark = pytest.mark.django_db


@contextmanager
def another_run_in_progress() -> Iterator[None]:
    """Another process's run holds the lock (a thread here: a session of its own) for the block."""
    taken, finished = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with synthetic_run_lock():
                taken.set()
                finished.wait(60)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert taken.wait(30)
    try:
        yield
    finally:
        finished.set()
        thread.join(30)


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

    with another_run_in_progress():
        assert synthetic_refund() is None
        with pytest.raises(CommandError, match="already running"):
            call_command("synthetic_refund")

    assert SyntheticRun.objects.count() == 1
    assert SyntheticRun.objects.get().ok is None  # the live one is left alone


def test_a_run_whose_process_died_is_closed_as_abandoned_by_the_next(settings):
    settings.PROVIDER_API_KEY = "sk_live_" + "z" * 24
    dead = SyntheticRun.objects.create(provider="stripe")  # unfinished, and nobody holds the lock

    assert synthetic_refund() is False  # the next run ran (and was refused: a live key)

    dead.refresh_from_db()
    assert dead.ok is False and dead.finished_at and dead.error.startswith("abandoned")
