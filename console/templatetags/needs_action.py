"""The Needs action count in the console's navigation (issue 12)."""

from __future__ import annotations

from django import template

from console.presenters.needs_action import needs_action_counts

register = template.Library()


@register.simple_tag
def needs_action_total() -> int:
    """Entries waiting in Needs action, of every kind: four counts on indexed columns."""
    return needs_action_counts()["total"]
