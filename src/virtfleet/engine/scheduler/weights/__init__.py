"""Soft preferences of placement, one per module: each scores hosts, higher is better."""
