#!/usr/bin/env bash
# Run Refund desk on the embedded default: SQLite, Celery on kombu's filesystem
# transport (a worker, and one for merchants' webhooks), the provider and Slack
# simulators, a webhook receiver standing in for the merchant's system, a mailbox
# page showing what was emailed to customers, gunicorn.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
SIM_PORT="${SIM_PORT:-8765}"
SLACK_SIM_PORT="${SLACK_SIM_PORT:-8790}"
WEBHOOK_RECEIVER_PORT="${WEBHOOK_RECEIVER_PORT:-8791}"
MAILBOX_PORT="${MAILBOX_PORT:-8792}"
export DJANGO_SETTINGS_MODULE=config.settings.base
export DEBUG="${DEBUG:-1}"
export APP_BASE_URL="${APP_BASE_URL:-http://127.0.0.1:${PORT}}"
export PROVIDER_API_BASE="${PROVIDER_API_BASE:-http://127.0.0.1:${SIM_PORT}}"
unset DATABASE_URL CELERY_BROKER_URL REDIS_URL
# The demo's merchant endpoint is the receiver on loopback over http: allowed here only (docs/webhooks.md "SSRF").
export WEBHOOKS_ALLOW_PRIVATE_URLS=1
WEBHOOKS_QUEUE="${CELERY_TASK_DEFAULT_QUEUE:-celery}.webhooks"
DEMO_WEBHOOK_URL="http://127.0.0.1:${WEBHOOK_RECEIVER_PORT}/demo-merchant"
# Without a Slack app of your own, the demo's "Slack" is the simulator (docs/slack.md).
SLACK_SIM=""
if [ -z "${SLACK_BOT_TOKEN:-}" ]; then
  SLACK_SIM=1
  export SLACK_BOT_TOKEN=xoxb-demo-slack-sim SLACK_SIGNING_SECRET=demo-slack-signing-secret
  export SLACK_APPROVALS_CHANNEL="${SLACK_APPROVALS_CHANNEL:-C0APPROVALS}"
  export SLACK_API_BASE="http://127.0.0.1:${SLACK_SIM_PORT}/api/"
fi
# Customers' emails (the portal's one-time code among them) go to files the mailbox page shows;
# production refuses this backend (config/settings/guard.py).
export EMAIL_BACKEND="${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}"
export EMAIL_FILE_PATH="${EMAIL_FILE_PATH:-$PWD/var/mail}"
mkdir -p var/broker/out var/broker/processed var/log "$EMAIL_FILE_PATH"
# The synthetic refund (docs/operations.md "Synthetic refund"): beat takes a test-mode refund through
# the simulator every SYNTHETIC_INTERVAL_SECONDS (300), as the `synthetic` merchant.
export SYNTHETIC_ENABLED="${SYNTHETIC_ENABLED:-1}"

$PY manage.py migrate --noinput -v 0
$PY scripts/compile_messages.py >/dev/null
# The default merchant's endpoint on the receiver first, so the seeded refunds' events reach it too;
# its signing secrets go to a file for the receiver's ✓.
WEBHOOK_SEED="$($PY manage.py seed_demo_webhooks --url "$DEMO_WEBHOOK_URL" \
  --secrets-file var/demo_webhook_secrets 2>var/log/seed.log)"
SEED_OUTPUT="${WEBHOOK_SEED}"$'\n'"$($PY manage.py seed_demo 2>>var/log/seed.log)"
receiver_secrets=()
if [ -f var/demo_webhook_secrets ]; then
  while read -r secret; do
    [ -n "$secret" ] && receiver_secrets+=(--secret "$secret")
  done <var/demo_webhook_secrets
fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if $PY manage.py help run_provider_sim >/dev/null 2>&1; then
  $PY manage.py run_provider_sim --port "$SIM_PORT" --webhook-url "${APP_BASE_URL}/webhooks/payments" \
    >var/log/provider_sim.log 2>&1 &
  pids+=($!)
fi
if [ -n "$SLACK_SIM" ] && $PY manage.py help run_slack_sim >/dev/null 2>&1; then
  # The seeded staff as workspace members, by the email their console accounts have.
  slack_users=()
  for name in agent senior1 senior2 finance risk risk2 admin; do
    slack_users+=(--user "U0${name^^}:${name}@example.com:${name}")
  done
  $PY manage.py run_slack_sim --port "$SLACK_SIM_PORT" \
    --interactions-url "${APP_BASE_URL}/integrations/slack/interactions" "${slack_users[@]}" \
    >var/log/slack_sim.log 2>&1 &
  pids+=($!)
fi
if $PY manage.py help run_webhook_receiver >/dev/null 2>&1; then
  $PY manage.py run_webhook_receiver --port "$WEBHOOK_RECEIVER_PORT" "${receiver_secrets[@]}" \
    >var/log/webhook_receiver.log 2>&1 &
  pids+=($!)
fi
if $PY manage.py help run_mailbox >/dev/null 2>&1; then
  $PY manage.py run_mailbox --dir "$EMAIL_FILE_PATH" --port "$MAILBOX_PORT" >var/log/mailbox.log 2>&1 &
  pids+=($!)
fi
# Merchants' webhooks in a worker of their own (threads: each delivery mostly waits on the merchant's
# answer); the other worker leaves their queue alone, so a slow endpoint never holds a refund back.
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 -X "$WEBHOOKS_QUEUE" -n "main@%h" \
  >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config worker --loglevel=INFO -Q "$WEBHOOKS_QUEUE" -P threads --concurrency=4 -n "webhooks@%h" \
  >var/log/webhooks_worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule >var/log/beat.log 2>&1 &
pids+=($!)
# The demo hands work to the workers as a default install does (OUTBOX_HANDOFF=publish): on SQLite the
# relay could only poll. Run it with OUTBOX_HANDOFF=relay to try the relay (docs/operations.md).
if [ "${OUTBOX_HANDOFF:-publish}" = relay ]; then
  $PY manage.py outbox_relay >var/log/relay.log 2>&1 &
  pids+=($!)
fi
.venv/bin/gunicorn config.wsgi --bind "127.0.0.1:${PORT}" --workers 2 >var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<INFO

  Refund desk is running (embedded default: SQLite, filesystem broker, provider simulator)

  App:            ${APP_BASE_URL}/
  Agent console:  ${APP_BASE_URL}/console/
  Admin:          ${APP_BASE_URL}/admin/
  API schema:     ${APP_BASE_URL}/v1/schema
INFO
if [ -n "$SLACK_SIM" ]; then
  cat <<INFO
  Slack (simulated): http://127.0.0.1:${SLACK_SIM_PORT}/_sim/?user=U0SENIOR1
                  (approve from the channel; "You are" switches between the seeded staff)
INFO
fi
cat <<INFO
  Portal:         ${APP_BASE_URL}/request/
                  (customers: order DEMO-LINES, DEMO-SERVICE or DEMO-AUTH, email shopper@example.com;
                  the one-time code arrives in the mailbox below)
  Mailbox:        http://127.0.0.1:${MAILBOX_PORT}/?to=shopper@example.com
                  (what customers were emailed: the portal's one-time code, confirmations, status links)
  Webhooks:       http://127.0.0.1:${WEBHOOK_RECEIVER_PORT}/_recv/
                  (the default merchant's endpoint ${DEMO_WEBHOOK_URL}: every refund event, ✓ = signature verified)
  Synthetic:      every ${SYNTHETIC_INTERVAL_SECONDS:-300} s a test refund end to end (merchant "synthetic"):
                  DEBUG=1 PROVIDER_API_BASE=${PROVIDER_API_BASE} .venv/bin/python manage.py synthetic_refund --last
                  (or run one now without --last); ${APP_BASE_URL}/metrics  synthetic_refund_*   and ${APP_BASE_URL}/readyz
  Kill switches:  ${APP_BASE_URL}/console/operations/pauses/ (as risk or admin): pause auto-approval or
                  submission to the simulator with a reason; the banner shows on every staff page
  Logs:           var/log/

${SEED_OUTPUT}

  Ctrl-C stops web, workers, beat, the outbox relay (OUTBOX_HANDOFF=relay), simulators, the webhook
  receiver and the mailbox.
INFO
wait -n "${pids[@]}"
