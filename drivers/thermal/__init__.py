"""Serial thermal sensors: protocols (framers, decoders) and the serial driver."""
