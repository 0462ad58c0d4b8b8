from django.conf import settings
from django.db import models


class EvidenceFile(models.Model):
    """A customer's evidence for a refund (photo, PDF), stored privately and encrypted.

    The bytes live under PRIVATE_MEDIA_ROOT, encrypted at rest, under a random
    `stored_name`; they are only ever served through a permission-checked view.
    """

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="evidence_files")
    stored_name = models.CharField(max_length=100, unique=True)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.original_name
