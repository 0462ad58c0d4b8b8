"""What the request portal keeps: the one-time codes it emailed, and the forms customers sent.

Both hold their invariants in the database: a code (or a miss's decoy) is
refused after `CODE_MAX_ATTEMPTS` wrong guesses by a CHECK (the counter is
raised under the row lock, so concurrent guesses cannot overrun it), and a form's one-time
token is unique, so a form sent twice creates one refund.
"""

from __future__ import annotations

from django.db import models

# Wrong guesses a code survives; the one that reaches this number voids it.
CODE_MAX_ATTEMPTS = 5


class AccessCode(models.Model):
    """A one-time code emailed to the address on an order, for the browser session that asked for it.

    Only a keyed digest of the code is kept for checking it. The code itself is
    kept encrypted (`code_sealed`) only until its email is sent — the email
    task must be able to read it — and emptied then. `session_digest` binds it
    to the session that asked: another browser holding the code cannot use it.

    When nothing matched, the session gets one decoy row instead (no order, no
    code): wrong guesses are then counted on a locked row in both cases, so a
    burst of guesses runs out the same way whether or not the order exists.
    """

    # None for a decoy: the row a miss writes so its guesses are counted like a real code's (portal.codes).
    order = models.ForeignKey("refunds.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    code_digest = models.CharField(max_length=64)
    code_sealed = models.TextField(blank=True)
    session_digest = models.CharField(max_length=64)
    # The language of the page that asked: the email is written in it.
    language = models.CharField(max_length=10, default="en")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], condition=models.Q(sent_at__isnull=True), name="accesscode_unsent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(attempts__lte=CODE_MAX_ATTEMPTS), name="accesscode_attempts_within_limit"
            ),
            # A used code was sent (its plaintext is gone) and checked: never usable again.
            models.CheckConstraint(
                condition=models.Q(used_at__isnull=True) | models.Q(code_sealed=""),
                name="accesscode_used_is_sealed_off",
            ),
            # A decoy holds no code, is never sent and never opens anything.
            models.CheckConstraint(
                condition=models.Q(order__isnull=False)
                | models.Q(code_sealed="", used_at__isnull=True, sent_at__isnull=True),
                name="accesscode_decoy_never_usable",
            ),
        ]

    def __str__(self) -> str:
        return f"code {self.pk} for order {self.order_id}"


class PortalSubmission(models.Model):
    """One sent request form: its one-time token (unique) and the refund it created.

    The row is inserted before the refund, in the same transaction: a second
    copy of the same form waits on the unique index until the first commits,
    then fails and is shown the first one's refund.
    """

    token = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey("refunds.Order", on_delete=models.CASCADE, related_name="+")
    refund = models.OneToOneField("refunds.Refund", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"portal submission {self.pk}"
