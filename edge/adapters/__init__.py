"""The I/O shells around the pure core: P1 sources (`edge.adapters.sources`) and their kin."""
