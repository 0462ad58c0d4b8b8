"""A Slack simulator (Web API subset, signed interactions, a channel page) for the demo and the tests.

Stdlib only and standalone, like `devtools.stripe_sim`: run it with
`python -m devtools.slack_sim.server` or `manage.py run_slack_sim` (docs/slack.md).
"""
