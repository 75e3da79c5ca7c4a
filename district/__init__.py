"""district layer of Checkpoint."""
