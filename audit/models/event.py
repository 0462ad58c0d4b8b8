from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One append-only audit event (SPEC §5).

    Written in the transaction of the change it records, with no global lock:
    a database trigger queues every new row in `AuditPending`, and the sealer
    (`audit.services.audit_seal_pending`, run by beat every few seconds) links
    it into the single hash chain (`AuditSeal`). PostgreSQL refuses UPDATE and
    DELETE on this table (migration 0002), so an event is never changed before
    or after it is sealed; `manage.py verify_audit` recomputes every link.
    PostgreSQL keeps the table partitioned by month of `occurred_at`
    (migration 0006, `core.partitions`): its primary key there is
    (id, occurred_at), ids still come from one sequence.
    """

    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=10)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_api_key = models.ForeignKey("refunds.ApiKey", null=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    # Where the actor acted, when not the console or the API ("slack"); part of the sealed content when set.
    channel = models.CharField(max_length=20, blank=True, default="", db_default="")
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

    class Meta:
        # Insertion order; a refund's own events are written under its row lock, so for
        # one refund this is also the order in which things happened.
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action}"
