"""`checkpoint doctor`: every part of a gate checked the way a technician would, one line
each (PROTOCOL.md section 7). One module per group of checks; `runner` runs them in
order, each bounded in time, a check that raises reported as that check's failure.
"""
