"""`manage.py send_digest`: the week on demand, a dry run that sends nothing, a clear error for a bad week."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.digest import IsoWeek
from integrations.models import DigestRun
from refunds.enums import Role
from tests.refunds.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("send_digest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_dry_run_prints_the_digest_and_sends_nothing():
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)

    out, err = run("--week", "2026-W45", "--dry-run")

    assert out.startswith("Refund desk weekly digest 2026-W45")
    assert "WAITING LONGER THAN THE SLA (24 h) NOW" in out
    assert "Dry run: nothing sent. Would email 1 senior agents" in err
    assert mail.outbox == []
    assert not DigestRun.objects.exists()


@pytest.mark.django_db
def test_the_command_sends_a_week_once_and_again_only_with_force():
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)

    _, first = run("--week", "2026-W45")
    _, second = run("--week", "2026-W45")
    _, forced = run("--week", "2026-W45", "--force")

    assert "Sent the digest of 2026-W45 to 1 senior agents" in first
    assert "was already sent" in second and "--force sends it again" in second
    assert "Sent the digest" in forced
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_without_a_week_the_command_sends_the_last_complete_one():
    run()

    assert DigestRun.objects.get().week == str(IsoWeek.last_complete())


@pytest.mark.parametrize(
    ("week", "message"),
    [("2026-W54", "2026 has weeks W01 to W53"), ("2026-13", "write it as YYYY-Www")],
)
def test_a_malformed_week_is_a_command_error(week, message):
    with pytest.raises(CommandError, match=message):
        run("--week", week)


def test_a_malformed_week_exits_non_zero_with_the_reason():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "manage.py", "send_digest", "--week", "2026-W54"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "CommandError: '2026-W54' is not an ISO week: 2026 has weeks W01 to W53" in done.stderr
