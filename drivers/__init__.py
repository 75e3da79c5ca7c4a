"""drivers layer of Checkpoint."""
