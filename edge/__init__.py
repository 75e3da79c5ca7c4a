"""edge layer of Checkpoint."""
