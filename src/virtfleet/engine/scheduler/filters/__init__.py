"""Hard constraints of placement, one per module: a host that fails one never receives the VM."""
