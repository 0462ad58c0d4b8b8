"""Stripe: everything Stripe-shaped lives in this package (SPEC §6, §7).

- `client` - `StripeProtocolProvider`, the `Provider` of the Stripe refunds
  wire protocol (the simulator in devtools/stripe_sim speaks it too, so
  pointing `PROVIDER_API_BASE` at it or at Stripe is configuration);
- `normalise` - the one status map, failure reasons, error answers;
- `webhooks` and `signature` - the event envelope, the `Stripe-Signature`
  header and its HMAC scheme;
- `reports` - the itemized balance report and refund list CSV layouts.

Nothing is imported here: the simulator process imports `signature` alone and
must not pay for `requests` or Django.
"""
