"""A Slack simulator: the Web API subset the app calls, signed interactions, a channel page.

It is a separate process - stdlib only, no Django - so the app and its tests
exercise the real wire protocol: slack_sdk's requests, Slack's `ok`/`error`
answers, 429 with Retry-After, and interactions signed with the signing
secret exactly as Slack signs them. State is in memory; a restart (a Slack
outage in the tests) starts an empty workspace.

    /api/<method>      auth.test, chat.postMessage, chat.update, chat.postEphemeral,
                       views.open, users.info (bearer token)
    /_sim/             the channel as a page, with working buttons and modals
    /_sim/users, /_sim/messages, /_sim/ephemeral, /_sim/views, /_sim/calls,
    /_sim/faults, /_sim/config, /_sim/clock, /_sim/reset, /_sim/health,
    /_sim/click, /_sim/submit, /_sim/close      (see docs/slack.md)

Run it with `python -m devtools.slack_sim.server --port 8790 --interactions-url
http://127.0.0.1:8000/integrations/slack/interactions --signing-secret S --token T`,
or through Django with `manage.py run_slack_sim` (secret and token from settings).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from urllib.parse import SplitResult, urlsplit

from devtools.http_server import AppHandler, AppServer, Listening, Reply
from devtools.slack_sim.app import SimRequest, SimulatorConfig, SlackSimulatorApp, json_response
from devtools.slack_sim.state import DEFAULT_TEAM_ID

__all__ = ["SimulatorConfig", "SlackSimServer", "main", "serve"]

# What `manage.py run_slack_sim` and `make demo` use when no Slack app is configured.
DEMO_SIGNING_SECRET = "demo-slack-signing-secret"
DEMO_TOKEN = "xoxb-demo-slack-sim"


class _Handler(AppHandler):
    """`SlackSimulatorApp` over HTTP."""

    server_version = "SlackSimulator/1"
    log_label = "slack-sim"

    def reply(self, url: SplitResult, body: bytes) -> Reply:
        request = SimRequest(self.command, url.path, url.query, self.headers, body)
        try:
            response = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a simulator bug still answers like Slack
            traceback.print_exc(file=sys.stderr)
            response = json_response(500, {"ok": False, "error": "fatal_error"})
        return Reply(response.status, response.body, response.content_type, response.headers)


class SlackSimServer(Listening):
    """The listening server around the app."""

    def __init__(self, config: SimulatorConfig) -> None:
        if not config.signing_secret or not config.token:
            raise ValueError("a signing secret and a bot token are required")
        if config.interactions_url and urlsplit(config.interactions_url).scheme not in ("http", "https"):
            raise ValueError("the interactions URL must be http(s)")
        self.app = SlackSimulatorApp(config)
        self.httpd = AppServer((config.host, config.port), _Handler)
        self.httpd.app = self.app
        self.app.base_url = self.url


def serve(config: SimulatorConfig) -> None:
    """Run until SIGINT/SIGTERM; prints the listening URL on stdout first (port 0 works)."""
    sim = SlackSimServer(config)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"slack simulator listening on {sim.url}", flush=True)
    print(f"  channel page: {sim.url}/_sim/   Web API: {sim.url}/api/", flush=True)
    print(f"  workspace members: {', '.join(u[0] for u in config.users) or '(none yet: POST /_sim/users)'}", flush=True)
    print(f"  interactions go to: {config.interactions_url or '(none yet: POST /_sim/config)'}", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `manage.py run_slack_sim`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790, help="0 picks a free port")
    parser.add_argument("--interactions-url", default=None, help="where clicks and submissions are POSTed")
    parser.add_argument("--signing-secret", default=None, help="default: $SLACK_SIGNING_SECRET, else a demo value")
    parser.add_argument("--token", default=None, help="the bot token to accept; default: $SLACK_BOT_TOKEN, else demo")
    parser.add_argument("--team-id", default=DEFAULT_TEAM_ID)
    parser.add_argument("--interaction-timeout", type=float, default=10.0, help="seconds to wait for the app")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID:EMAIL:NAME",
        help="a workspace member from the start (repeatable), e.g. U0AGENT:agent@example.com:agent",
    )


def config_from_args(
    args: argparse.Namespace, *, default_secret: str | None = None, default_token: str | None = None
) -> SimulatorConfig:
    """Options win; then the defaults given (Django settings); then the environment; then demo values."""
    return SimulatorConfig(
        signing_secret=args.signing_secret
        or default_secret
        or os.environ.get("SLACK_SIGNING_SECRET")
        or DEMO_SIGNING_SECRET,
        token=args.token or default_token or os.environ.get("SLACK_BOT_TOKEN") or DEMO_TOKEN,
        host=args.host,
        port=args.port,
        interactions_url=args.interactions_url,
        team_id=args.team_id,
        interaction_timeout=args.interaction_timeout,
        users=tuple(_parse_user(spec) for spec in args.user or ()),
    )


def _parse_user(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"--user takes ID:EMAIL:NAME, not {spec!r}")
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    """Entry point without Django; blocks until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    try:
        config = config_from_args(parser.parse_args(argv))
    except ValueError as exc:
        parser.error(str(exc))
    serve(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
