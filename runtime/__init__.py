"""The mechanisms every layer runs on: supervised threads, log lines, SQLite transactions,
config files and MQTT clients.

`models/` stays pure (no I/O, no threads), so what drivers, the agent and the district
share beyond data lives here, once. This package imports nothing of ours but `models`.
"""
