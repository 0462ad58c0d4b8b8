"""What /readyz reads that the kernel may not import (core.health's registration hooks; issue 16).

* `providers`: each provider's circuit breaker as the workers share it (Redis). Only providers
  with an API have one (a manual provider is settled by hand). Every one of them open means no
  refund can reach any provider: not ready (503). One open among several is detail: the process
  still serves the others, the console and webhooks, and an orchestrator restarting it would
  not bring the provider back.
* `pauses`: the kill switches in force (refunds.models.OperationsPause). Information for whoever
  reads the probe during an incident; a pause is a decision, not a fault, so never a 503. The probe
  is anonymous: it says *that* something is paused (`pauses_public`); the reason, an incident note
  for staff, only to a caller with the metrics token (core.health.probe_authorized).
"""

from __future__ import annotations

from typing import Any

from providers.breaker import OPEN, CircuitBreaker
from providers.registry import provider_class, provider_names
from refunds.services.pauses import pauses_in_force


def breaker_states() -> tuple[dict[str, str], bool]:
    """({provider: closed|open|half_open}, healthy): unhealthy only when every breaker is open."""
    with_api = [name for name in provider_names() if not provider_class(name).settles_by_hand]
    states = {name: CircuitBreaker(name).stats().state for name in with_api}
    healthy = not states or any(state != OPEN for state in states.values())
    return states, healthy


def pauses_detail() -> list[dict[str, Any]]:
    """Every pause in force, oldest first: kind, provider ("*" for all), reason, since (ISO 8601)."""
    return [
        {
            "kind": pause.kind,
            "provider": pause.provider or "*",
            "reason": pause.reason,
            "since": pause.paused_at.isoformat(),
        }
        for pause in pauses_in_force()
    ]


def pauses_public(pauses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an anonymous caller of /readyz sees of `pauses_detail`: kind, provider and since, no reason."""
    return [{key: pause[key] for key in ("kind", "provider", "since")} for pause in pauses]
