"""Firmware simulator: a DSMR smart meter in software (never imports `edge`).

Command line: `firmware-sim run|scenario|replay` (see `firmware_sim.cli`, or `--help`).

Python API (tests and benchmarks), documented in `firmware_sim.api`:

    from firmware_sim.api import render, render_to_file
    out = render("dsmr5", start="2026-03-29T00:00:00+01:00", duration="1d", seed=7,
                 profile="household", gas=True, faults="power_failure:5m@12:00")
    out.telegrams, out.times, out.data, out.truth, out.truth_csv()

Layout: clock (time, DST), profiles (numpy), meter (exact integer physics), fluvius (demand
registers), simulate (segments -> telegram columns + truth), render/dialects (text + CRC),
dlms (encrypted frames), faults, stream, ports (pty/tcp/file/stdout), runner, replay,
scenario, truth, config, cli.
"""

__version__ = "0.1.0"
