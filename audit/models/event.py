from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One append-only, hash-chained audit event (SPEC §5).

    `seq` is the position in the single global chain and `hash` covers this
    event's content and the previous event's hash, so removing, reordering or
    editing any event breaks `manage.py verify_audit`. PostgreSQL also refuses
    UPDATE and DELETE on this table (migration 0002).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=10)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_api_key = models.ForeignKey("refunds.ApiKey", null=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=60, db_index=True)
    refund = models.ForeignKey("refunds.Refund", null=True, on_delete=models.PROTECT, related_name="audit_events")
    subject = models.CharField(max_length=100, blank=True, help_text="Order id, policy version … when not a refund.")
    amount_minor = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3, blank=True)
    policy_rule = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    flagged = models.BooleanField(default=False, help_text="Loud: e.g. an override of an in-policy recommendation.")
    correlation_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """The single row holding the chain's tip.

    Writers lock it (`select_for_update`) to append, which serialises appends
    across every web process and worker; the lock is held only from the audit
    write to commit, so services write their audit event last.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_single_head")]
