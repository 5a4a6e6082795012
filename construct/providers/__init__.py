"""Provider implementations: the `Provider` contract and the adapters behind it."""
