"""Benchmarks of the device's hot paths, run by `checkpoint bench`."""
