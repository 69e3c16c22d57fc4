"""The gauges that need a look at the database or the node (registry/monitoring/service.py)."""
