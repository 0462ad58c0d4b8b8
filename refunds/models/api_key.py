import hashlib
import secrets

from django.conf import settings
from django.db import models


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """A merchant-system credential. Only the SHA-256 of the key is stored.

    Keys have 256 bits of entropy, so an unsalted fast hash is enough: there is
    nothing to brute-force, and lookup by digest stays one index probe.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    # Whose data the key reaches: every API lookup is scoped by it (docs/api.md "Tenancy").
    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def generate() -> tuple[str, str]:
        prefix = secrets.token_hex(4)
        return prefix, f"rdk_{prefix}_{secrets.token_urlsafe(32)}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
