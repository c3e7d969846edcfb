"""What the service keeps between requests: the shared state (SQLite or Redis) and the operator's watched files."""
