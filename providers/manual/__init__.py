"""Manual payouts: no API; finance pays the customer by hand and records the reference (SPEC §6)."""

from providers.manual.provider import ManualProvider

__all__ = ["ManualProvider"]
