"""models layer of Checkpoint."""
