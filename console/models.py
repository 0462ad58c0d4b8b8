"""What a staff member sets for themselves: their time zone (Account page)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """Every zone the zone database on this machine knows (the names `zoneinfo.ZoneInfo` accepts)."""
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError("Choose a time zone from the list (for example Europe/Berlin).", code="invalid")


class StaffProfile(models.Model):
    """One per staff member who changed a setting; none means the defaults (settings.TIME_ZONE)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="Times on staff pages are shown in this zone, named beside them.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"
