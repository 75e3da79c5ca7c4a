"""Card readers: the PN532 over its host-serial frames (pn532*) and the keyboard wedge."""
