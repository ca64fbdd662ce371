"""What services, commands, monitoring and the scheduler all share: state transitions
(compare-and-swap), status sets, the event log, the transaction helper, derived values."""
