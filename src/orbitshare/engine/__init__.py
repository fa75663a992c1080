"""The streaming engine: propagation, the one time-chunked pass (coverage, service), backends, GSO."""
