"""The guard console: a local web page served by the agent (edge/console/server.py)."""
