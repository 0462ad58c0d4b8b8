"""The Grafana dashboards of deploy/grafana load, and every query reads metrics the app exports (issue 16).

A panel whose query names a metric nobody exports stays empty without any
error in Grafana, so an on-call engineer learns of it during an incident.
The check reads each dashboard as a provisioner does (the fields Grafana
needs to import it), fills in Grafana's variables as Grafana would, parses
every expression with a PromQL parser and compares the metric names with the
app's own /metrics exposition.
"""

from __future__ import annotations

import json

import pytest

from tests.support.grafana import DASHBOARDS, NAMES, Intervals, all_values, load, panels, promql
from tests.support.prometheus import exported_metric_names, metric_names_in

INTERVALS = Intervals.grafana(range_s=6 * 3600, max_data_points=1000, scrape_s=15)
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "gauge", "table", "state-timeline", "text"}


def targets(name: str) -> list[tuple[str, str, str]]:
    """(panel title, refId, the expression as Prometheus receives it) of every query of a dashboard."""
    dashboard = load(name)
    variables = all_values(dashboard)
    return [
        (panel["title"], target["refId"], promql(target["expr"], INTERVALS, variables))
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_the_three_dashboards_are_there_and_nothing_else():
    assert sorted(path.stem for path in DASHBOARDS.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_has_what_a_provisioner_needs(name):
    dashboard = json.loads((DASHBOARDS / f"{name}.json").read_text())

    assert dashboard["uid"] == f"refund-desk-{name}" and len(dashboard["uid"]) <= 40
    assert dashboard["title"].startswith("Refund desk")
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    # Provisioned from a file, a dashboard must not carry a database id of another Grafana.
    assert dashboard["id"] is None
    assert dashboard["time"]["from"].startswith("now-")
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"


@pytest.mark.parametrize("name", NAMES)
def test_panels_have_unique_ids_a_place_and_the_templated_data_source(name):
    dashboard = load(name)
    ids = [panel["id"] for panel in panels(dashboard)]

    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] >= 1 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] >= 1 and grid["y"] >= 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"{panel['title']} queries nothing"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("name", NAMES)
def test_panels_do_not_overlap(name):
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(load(name)):
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_every_expression_parses_and_names_only_metrics_the_app_exports(name, client):
    # A served request first, as /metrics itself is one: metrics defined in middleware modules are
    # registered when Django loads its middleware, not when the test process starts.
    client.get("/healthz")
    exported = exported_metric_names()  # the scrape-time gauges read the database
    unknown = {}
    for title, ref_id, expr in targets(name):
        names = metric_names_in(expr)  # raises on an expression Prometheus would refuse
        missing = names - exported
        if missing:
            unknown[f"{title} [{ref_id}]"] = sorted(missing)

    assert unknown == {}


def test_the_slo_panels_measure_the_brief_targets():
    """The thresholds of the brief, spelled as the exposition writes bucket bounds (`le="120.0"`)."""
    executive = " ".join(expr for _, _, expr in targets("executive"))

    assert 'refund_decision_seconds_bucket{decided_by="policy",le="120.0"}' in executive
    assert 'refund_settlement_seconds_bucket{outcome="completed",le="432000.0"}' in executive
    assert "/ 0.0005" in executive


def test_grafana_variables_are_filled_as_grafana_does():
    intervals = Intervals.grafana(range_s=600, max_data_points=200, scrape_s=2)

    assert intervals.interval == 3 and intervals.rate == 8
    assert promql('rate(x{p=~"$provider"}[$__rate_interval]) [$__range]', intervals, {"provider": ".*"}) == (
        'rate(x{p=~".*"}[8s]) [600s]'
    )
    with pytest.raises(KeyError):
        promql("rate(x[$nope])", intervals)
