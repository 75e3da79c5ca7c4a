"""Simulated twins of the hardware drivers: they exercise the real code paths."""
