"""Commissioning: prove a real device is the one labctl's table describes, and sign it.

``labctl commission --config site.toml DEVICE`` (:mod:`labctl.commission.cli`) drives the
device safe, checks its identity, registers, writes, turnaround and lease, prints each check
and signs a :class:`~labctl.ledger.ops_records.Commissioning` record into the ledger.
:mod:`labctl.commission.record` says which devices a site has and whether each one holds a
passing record for its current configuration.
"""
