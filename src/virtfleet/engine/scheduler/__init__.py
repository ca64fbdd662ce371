"""Placement of VMs on hosts: filters (hard constraints), weights (preferences), oVirt's policies,
and the in-memory ledger of what each host has committed."""
