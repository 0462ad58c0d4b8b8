"""The Slack simulator is a stand-alone process: stdlib only, none of our apps, no Django."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.slack_sim import ROOT

OURS = ("django", "requests", "slack_sdk", "config", "core", "refunds", "integrations", "providers", "notifications")


def test_the_slack_simulator_imports_nothing_but_the_standard_library() -> None:
    code = (
        "import json, sys; import devtools.slack_sim.server; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {OURS!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    assert json.loads(done.stdout) == []
