"""Firmware simulator: a DSMR smart meter in software (never imports `edge`)."""

__version__ = "0.1.0"
