"""P1 edge gateway: the edge agent that reads a smart meter's P1 port."""

__version__ = "0.1.0"
