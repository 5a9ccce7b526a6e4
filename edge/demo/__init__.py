"""`edge-agent demo`: the whole chain on one machine, hardware-free, in well under a minute."""
