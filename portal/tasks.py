"""Celery tasks of the portal; they live beside what they run (portal.codes), imported here for autodiscovery."""

from portal.codes import send_access_code, sweep_access_codes

__all__ = ["send_access_code", "sweep_access_codes"]
