"""SQL registry: engine, sessions and migrations."""
