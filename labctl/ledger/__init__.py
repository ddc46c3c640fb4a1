"""The traceability ledger: signed records in an append-only Merkle log."""
