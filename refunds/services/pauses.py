"""Kill switches (issue 16): pausing auto-approval or provider submission during an incident, and resuming.

A pause is an `OperationsPause` row, in force until resumed; `provider` ""
stops every provider. Two kinds (`PauseKind`):

* `auto_approval` — `refund_request` sends what the policy would approve on
  its own to review instead (people still approve, from the console, Slack or
  the API); dual control and hard refusals are unchanged.
* `submission` — the outbox does not call the provider: a delivery task for
  a held message returns without a call and without using an attempt, the
  sweeper skips held messages, and `resume` queues them in outbox order
  (available_at, id). A provider that settles by hand (`manual`) has no
  outbox and no API call: its payouts are people's work, so it cannot be
  paused (refused, ERR_VALIDATION); pausing "every provider" means every
  provider with an API.

Who reads a switch and who sets it are serialised by a transaction-scoped
advisory lock per kind (PostgreSQL): the readers that act on it (a create
about to auto-approve, a claim about to call the provider) take it shared,
`pause`/`resume` exclusive. So `pause` returns only once every create or
claim that read "not paused" has committed, and none that starts later can
miss the pause: once a pause is set no refund is auto-approved, and the
provider is called only for claims already committed (counted as in flight
in the audit event; those calls finish — interrupting them would leave their
outcome unknown). The lock costs readers nothing but one in-memory lock
call: pauses are rare, so it is never contended. Reads are one indexed query
(the partial unique key), with no cache: a pause must hold in every process
the moment it commits. A reader takes the lock and reads in one call of the
function `refunds_pause_in_force` (refunds/0031), whose read has a snapshot
of its own, taken once the lock is held: in one plain statement the read
would use the statement's snapshot, taken before it waited for the lock, and
miss the pause committing meanwhile. A create calls it in its payment lock's
statement (refunds.services.request_lock).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from providers.registry import provider_class, provider_names
from refunds.enums import PauseKind
from refunds.models import OperationsPause
from refunds.services.outbox import outbox_queue_released
from refunds.services.pause_reads import (
    ALL_PROVIDERS,
    auto_approval_paused,
    exclude_held,
    held_counts,
    pause_in_force,
    pauses_in_force,
    pauses_in_force_qs,
    pending_messages_of,
    scope_label,
    submission_paused,
    switch_lock,
)

__all__ = [
    "ALL_PROVIDERS",
    "auto_approval_paused",
    "exclude_held",
    "held_counts",
    "pause",
    "pause_in_force",
    "pauses_in_force",
    "resume",
    "scope_label",
    "submission_paused",
]

REASON_MAX = OperationsPause._meta.get_field("reason").max_length


# --- writes ---------------------------------------------------------------------------------------


def _clean(kind: str, provider: str, reason: str) -> tuple[str, str, str]:
    if kind not in PauseKind.values:
        raise DomainError(
            ERR_VALIDATION, f"Unknown kill switch '{kind}' (one of: {', '.join(PauseKind.values)}).", field="kind"
        )
    provider = (provider or "").strip()
    if provider and provider not in provider_names():
        raise DomainError(
            ERR_VALIDATION,
            f"Unknown provider '{provider}' (one of: {', '.join(provider_names())}; or none for every provider).",
            field="provider",
        )
    if provider and kind == PauseKind.SUBMISSION and provider_class(provider).settles_by_hand:
        raise DomainError(
            ERR_VALIDATION,
            f"Provider '{provider}' is paid out by hand: there is no submission to pause.",
            field="provider",
        )
    # Control and format characters (zero-width spaces, soft hyphens, BOMs) are invisible: a reason
    # made of them would leave the banner and the audit trail saying nothing.
    reason = "".join(ch for ch in (reason or "") if unicodedata.category(ch) not in ("Cc", "Cf"))
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError(ERR_VALIDATION, "A reason is required.", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(ERR_VALIDATION, f"The reason is longer than {REASON_MAX} characters.", field="reason")
    return kind, provider, reason


def _describe(kind: str, provider: str) -> str:
    return f"{PauseKind(kind).label} for {scope_label(provider)}"


def pause(kind: str, *, provider: str = ALL_PROVIDERS, reason: str, actor: Actor) -> OperationsPause:
    """Set a kill switch; returns the pause in force.

    Side effects, in one transaction:
    1. take the switch's lock exclusive (waits for creates and claims that
       read it to commit; see the module docstring);
    2. refuse (ERR_CONFLICT_STATE, `details.paused_at`) if this kind and scope
       is already paused — the partial unique key refuses a second row even
       if this check were skipped;
    3. insert the pause;
    4. audit `operations.paused` (kind, provider, reason; for submission the
       messages held and those in flight, whose calls finish).
    The returned row's `counts` is what the audit event recorded of the outbox
    (`{"held", "in_flight"}`; empty for auto-approval), for the caller to show.
    """
    kind, provider, reason = _clean(kind, provider, reason)
    try:
        with transaction.atomic():
            switch_lock(kind, shared=False)
            existing = pauses_in_force_qs().filter(kind=kind, provider=provider).first()
            if existing is not None:
                raise _already_paused(existing)
            row = OperationsPause.objects.create(
                kind=kind,
                provider=provider,
                reason=reason,
                paused_by=actor.user,
                paused_by_label=actor.label[:150],
            )
            row.refresh_from_db(fields=["paused_at"])
            after: dict[str, Any] = {"kind": kind, "provider": provider, "reason": reason}
            if kind == PauseKind.SUBMISSION:
                after.update(held_counts(provider))
            audit_record(
                actor=actor,
                action=AuditAction.OPERATIONS_PAUSED,
                subject=_subject(kind, provider),
                note=reason,
                after=after,
                flagged=True,
            )
    except IntegrityError:
        # Two pauses at once without the advisory lock (SQLite): the unique key kept one; name it.
        existing = pauses_in_force_qs().filter(kind=kind, provider=provider).first()
        raise _already_paused(existing) from None
    row.counts = {key: after[key] for key in ("held", "in_flight") if key in after}
    return row


def _already_paused(existing: OperationsPause | None) -> DomainError:
    if existing is None:
        return DomainError(ERR_CONFLICT_STATE, "This is already paused.")
    return DomainError(
        ERR_CONFLICT_STATE,
        f"{_describe(existing.kind, existing.provider).capitalize()} is already paused "
        f"(since {existing.paused_at:%Y-%m-%d %H:%M} UTC by {existing.paused_by_label}: {existing.reason}).",
        kind=existing.kind,
        provider=existing.provider,
        paused_at=existing.paused_at.isoformat(),
    )


def _subject(kind: str, provider: str) -> str:
    return f"pause:{kind}:{provider or '*'}"


def resume(kind: str, *, provider: str = ALL_PROVIDERS, reason: str, actor: Actor) -> OperationsPause:
    """Lift a kill switch; returns the pause, now resumed.

    Side effects, in one transaction:
    1. take the switch's lock exclusive; lock the pause row; refuse
       (ERR_CONFLICT_STATE) if this kind and scope is not paused;
    2. mark it resumed (when, by whom, why);
    3. for submission: queue the messages it held, in outbox order
       (available_at, id), leaving those another pause still holds (a
       provider's own pause outlives the lifting of "every provider", and the
       other way round); their tasks are published after commit;
    4. audit `operations.resumed` (kind, provider, reason, how many queued).
    The returned row's `counts` is `{"queued": n}`, for the caller to show.
    """
    kind, provider, reason = _clean(kind, provider, reason)
    with transaction.atomic():
        switch_lock(kind, shared=False)
        row = pauses_in_force_qs().select_for_update().filter(kind=kind, provider=provider).first()
        if row is None:
            raise DomainError(
                ERR_CONFLICT_STATE,
                f"{_describe(kind, provider).capitalize()} is not paused.",
                kind=kind,
                provider=provider,
            )
        row.resumed_at = timezone.now()
        row.resumed_by = actor.user
        row.resumed_by_label = actor.label[:150]
        row.resume_reason = reason
        row.save(update_fields=["resumed_at", "resumed_by", "resumed_by_label", "resume_reason"])
        after: dict[str, Any] = {"kind": kind, "provider": provider, "reason": reason}
        if kind == PauseKind.SUBMISSION:
            after["queued"] = _queue_released(provider)
        audit_record(
            actor=actor,
            action=AuditAction.OPERATIONS_RESUMED,
            subject=_subject(kind, provider),
            note=reason,
            before={"paused_at": row.paused_at.isoformat(), "paused_by": row.paused_by_label, "reason": row.reason},
            after=after,
        )
    row.counts = {"queued": after.get("queued", 0)}
    return row


def _queue_released(provider: str) -> int:
    """Queue what this resume releases; messages still under another submission pause stay held."""
    still = set(pauses_in_force_qs().filter(kind=PauseKind.SUBMISSION).values_list("provider", flat=True))
    if ALL_PROVIDERS in still:
        return 0
    messages = pending_messages_of(provider).exclude(refund__payment__provider__in=still)
    return len(outbox_queue_released(messages))
