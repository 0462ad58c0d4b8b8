"""The Prometheus rules in deploy/prometheus: they load, they read what the app exports, they link runbooks that exist.

An alert over a metric the app does not export never fires, and one whose
runbook link is dead sends the person it woke to a 404. promtool (Debian's
`prometheus` package, `make prometheus-deps`) checks the files and runs the
unit tests of alerts_test.yml; the rest is read here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.utils import floatToGoString

from core.actor import Actor
from operations.models import SyntheticRun
from reconciliation.enums import RunSource
from reconciliation.services import reconciliation_run, trial_balance_check
from refunds.enums import OutboxStatus, PauseKind
from refunds.models import OperationsPause, OutboxMessage
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, refund_submitted, today
from tests.support.prometheus import exported_metric_names, metric_names_in

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = [PROMETHEUS / "rules.yml", PROMETHEUS / "alerts.yml"]
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_PREFIX = "docs/runbooks.md#"


def rules() -> list[dict]:
    groups = [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


def _rule_name(rule: dict) -> str:
    """An alert's name, or a recording rule's name with its SLO (several SLOs share one name)."""
    if "alert" in rule:
        return rule["alert"]
    slo = rule.get("labels", {}).get("slo")
    return f"{rule['record']}{{slo={slo}}}" if slo else rule["record"]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(binary).exists():
        pytest.fail("promtool is missing: `make prometheus-deps` installs Debian's prometheus package")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=PROMETHEUS)


def test_promtool_accepts_the_recording_and_alerting_rules():
    result = promtool("check", "rules", *(path.name for path in RULE_FILES))

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_example_configuration(tmp_path):
    """prometheus.yml as documented, with its token file and rule files beside it."""
    token = tmp_path / "token"
    token.write_text("not-a-secret\n")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/refund-desk-metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    for path in RULE_FILES:
        shutil.copy(path, tmp_path / path.name)

    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass():
    """alerts_test.yml: the decision fast burn fires on a burst of slow decisions and not on a healthy
    series, stays quiet while auto-approval is paused; dead letters and reconciliation staleness fire;
    a stuck outbox pages, one held by a submission pause does not."""
    result = promtool("test", "rules", "alerts_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook():
    for alert in alerts():
        assert alert["labels"]["severity"] in {"page", "ticket"}, alert["alert"]
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        assert annotations["runbook_url"].startswith(RUNBOOK_PREFIX), alert["alert"]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (outside code fences).

    GitHub's rule: lower-case the heading's text, drop every character that is
    not a letter, digit, space, hyphen or underscore, turn spaces into hyphens;
    a repeated anchor gets `-1`, `-2`, … in order.
    """
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_github_anchor_rules():
    assert github_anchors("# Dead letters\n## A refund is stuck\n### Tasks not queued (broker down)\n") == {
        "dead-letters",
        "a-refund-is-stuck",
        "tasks-not-queued-broker-down",
    }
    assert github_anchors("## `manage.py outbox`\n```\n## not a heading\n```\n## Twice\n## Twice\n") == {
        "managepy-outbox",
        "twice",
        "twice-1",
    }


def test_every_runbook_link_names_a_section_of_the_runbooks():
    anchors = github_anchors(RUNBOOKS.read_text())

    missing = {
        alert["alert"]: alert["annotations"]["runbook_url"]
        for alert in alerts()
        if alert["annotations"]["runbook_url"].removeprefix(RUNBOOK_PREFIX) not in anchors
    }

    assert not missing, f"runbook anchors with no heading in docs/runbooks.md: {missing}"


def test_every_link_within_the_runbooks_names_one_of_their_sections():
    text = RUNBOOKS.read_text()
    anchors = github_anchors(text)

    dead = sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - anchors)

    assert not dead, f"links to no heading of docs/runbooks.md: {dead}"


def _load_the_app() -> None:
    """One request through the middleware and the URLconf, so every module holding a histogram is imported."""
    assert Client().get("/healthz", HTTP_HOST="localhost").status_code == 200


def _data_behind_every_gauge() -> None:
    """Rows behind the gauges that only appear once there is something to report.

    A settled refund and one whose provider call was given up (outbox dead
    letter), a reconciliation run of the day with one exception, a trial
    balance check, a kill switch in force and a finished synthetic run.
    """
    settled = refund_settled()
    stuck = refund_submitted()
    OutboxMessage.objects.filter(refund=stuck).update(status=OutboxStatus.DEAD, last_error="test: given up")
    system = Actor.system("tests/deploy")
    report = provider_report([provider_row(settled), provider_row()])  # and one refund we do not know
    reconciliation_run(day=today(), provider="stripe", source=RunSource.FILE, file=report, actor=system)
    trial_balance_check(checked_by="tests/deploy")
    OperationsPause.objects.create(kind=PauseKind.SUBMISSION, provider="stripe", reason="test", paused_by_label="test")
    now = timezone.now()
    SyntheticRun.objects.create(
        started_at=now - timedelta(seconds=20), finished_at=now, ok=True, provider="stripe", steps=[]
    )


@pytest.mark.django_db
def test_every_metric_an_expression_reads_is_exported_by_the_app_or_recorded_by_a_rule():
    _load_the_app()
    _data_behind_every_gauge()
    known = exported_metric_names() | recorded_names()

    unknown: dict[str, set[str]] = {}
    for rule in rules():
        for metric in metric_names_in(rule["expr"]) - known:
            unknown.setdefault(metric, set()).add(_rule_name(rule))

    assert not unknown, "expressions read metrics nobody exports:\n" + "\n".join(
        f"{metric} (read by {', '.join(sorted(names))})" for metric, names in sorted(unknown.items())
    )


def _bucket_bounds(histogram_name: str) -> set[str]:
    """The `le` values the app exposes for a histogram (empty: no such histogram in the registry)."""
    collector = REGISTRY._names_to_collectors.get(histogram_name)  # prometheus_client has no public lookup by name
    return {floatToGoString(bound) for bound in getattr(collector, "_upper_bounds", ())}


def _le_matchers(expr: str) -> list[tuple[str, str]]:
    import promql_parser

    found: list[tuple[str, str]] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name and node.name.endswith("_bucket"):
            found.extend((node.name, m.value) for m in node.matchers.matchers if m.name == "le")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_every_le_an_expression_selects_is_a_bucket_bound_as_the_app_writes_it():
    """`le="120"` selects nothing: the exposition (and Prometheus 3) write "120.0"."""
    _load_the_app()
    wrong = []
    for rule in rules():
        for bucket, le in _le_matchers(rule["expr"]):
            bounds = _bucket_bounds(bucket.removesuffix("_bucket"))
            if le not in bounds:
                wrong.append((_rule_name(rule), bucket, le, sorted(bounds)))
    selected = [pair for rule in rules() for pair in _le_matchers(rule["expr"])]

    assert selected, "the SLO rules select histogram buckets"
    assert not wrong, wrong
