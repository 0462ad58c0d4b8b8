"""Receivers of the refund signals that keep Slack cards in step (filled in by `integrations.slack.sync`)."""
