"""Per-service executors: each turns a validated ``ActionRequest`` into one call to the real API's shape."""
