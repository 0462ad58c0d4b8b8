"""The simulator is a stand-alone process: it imports our signature scheme and nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.stripe_sim import REPO_ROOT


def test_the_simulator_imports_neither_django_nor_requests() -> None:
    code = (
        "import json, sys; import devtools.stripe_sim.server; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'requests', 'providers'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    assert json.loads(done.stdout) == ["providers", "providers.stripe", "providers.stripe.signature"]
