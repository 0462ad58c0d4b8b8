"""Daily reconciliation of provider refunds against our refunds and ledger (SPEC §7, docs/reconciliation.md).

Modules: `enums` (vocabularies), `window` (which instants belong to a day),
`sources` (reading the provider side: list API or report CSV), `staging`
(bulk-loading it into PostgreSQL with COPY), `classify` (the set-based SQL),
`services` (runs, resolutions, the trial balance check), `selectors` (reads
for the screens), `exports` (streamed CSV).
"""
