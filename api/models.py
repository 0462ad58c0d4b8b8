from django.db import models


class IdempotencyRecord(models.Model):
    """The first answer given for an API key's Idempotency-Key (SPEC §9).

    The row is inserted with the answer as the last statement of the
    request's transaction (`api.idempotency`): a second request with the same
    key blocks on the unique index until the first commits, then rolls its
    own work back and replays the stored answer — so two racing retries can
    never both create a refund. The answer is null only while an upload's
    claim (inserted first) is uncommitted.
    """

    api_key = models.ForeignKey("refunds.ApiKey", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key_per_api_key")]
