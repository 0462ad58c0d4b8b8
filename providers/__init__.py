"""Payment providers (SPEC §6): the contract, the registry, and one package per provider.

- `base` - the `Provider` contract and the normalised types crossing it
  (`ProviderOutcome`, `ProviderEvent`, `ReportRow`) and its exceptions;
- `registry` - which providers exist (`PROVIDERS`) and `get_provider(name)`;
- `breaker` - a circuit breaker per provider;
- `reports` - CSV helpers shared by the providers' report layouts;
- `stripe/`, `manual/` - one self-contained package per provider.

Adding a provider is one package and one line in `registry.PROVIDERS`. This
package imports nothing itself: the simulator process imports
`providers.stripe.signature` and stays free of Django and `requests`.
"""
