from django.db import models

from audit.models.event import AuditEvent

GENESIS_HASH = "0" * 64


class AuditSeal(models.Model):
    """One link of the audit hash chain: an event's place in it and the hash covering it.

    `seq` runs 1, 2, 3 … without gaps in the order events were sealed, and
    `hash` covers the event's content, its id, `seq` and the previous link's
    hash, so removing, reordering or editing any sealed event breaks
    `manage.py verify_audit`. Written only by the sealer, append-only (trigger).
    """

    seq = models.PositiveBigIntegerField(primary_key=True)
    # No foreign key in PostgreSQL: the events are partitioned by month (migration 0006 says why
    # nothing is lost); still one seal per event.
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="seal", db_constraint=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"seal {self.seq}"


class AuditPending(models.Model):
    """An event waiting to be sealed.

    Filled by a database trigger on every insert into the events table — so no
    code path, ORM or raw SQL, can add an event that escapes the chain — and
    emptied by the sealer in the transaction that seals the event.
    """

    # No foreign key in PostgreSQL, as AuditSeal.event: the trigger queues only the events it sees inserted.
    event = models.OneToOneField(
        AuditEvent, on_delete=models.PROTECT, primary_key=True, related_name="+", db_constraint=False
    )


class AuditChainHead(models.Model):
    """The single row holding the chain's tip (the last seal).

    Only the sealer locks it, once per batch of events, so the chain is one
    total order without making every audited transaction queue for one row.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_single_head")]
