"""Every side effect of the order flows, one module per domain."""
