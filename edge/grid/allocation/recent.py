"""What is known of a point's own recent volumes, for the profile estimate of a day without its
block (opted out, missing, rejected): its neighbour day's block, else its last block in the
store (the caller's `history`). Only the few points without a block of the day are read here,
with the generic decoder; a block that does not decode tells nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from edge.blocks.cose import decode_envelope
from edge.blocks.payload import REGISTERS, decode_payload
from edge.errors import BlockError
from edge.grid.allocation.model import Array, Columns, Points

Recent = tuple[Array, Array]  # (import, export) Wh per interval of that day, ≥ 0, no nan


def _decoded(cose: bytes) -> tuple[Recent, str, int] | None:
    """(volumes, gateway, seq) of a block, or None where it does not decode."""
    try:
        payload = decode_payload(decode_envelope(cose)[2])
        readings, gw, seq = payload["readings"], payload["gw"], payload["seq"]
        values = np.array([[np.nan if v is None else float(v) for v in readings[r]]
                           for r in REGISTERS])  # fmt: skip
    except (BlockError, KeyError, TypeError, ValueError, OverflowError):
        return None
    if values.ndim != 2 or values.shape[1] < 2 or type(gw) is not str or type(seq) is not int:
        return None
    volumes = []
    for a, b in ((0, 1), (2, 3)):
        step = np.diff(values[a] + values[b])
        volumes.append(np.where(np.isfinite(step) & (step > 0), step, 0.0))
    return (volumes[0], volumes[1]), gw, seq


def recent_volumes(
    points: Points, cols: Columns, edges: Mapping[int, bytes],
    history: Callable[[str], bytes | None] | None,
) -> dict[int, Recent]:  # fmt: skip
    """Per point without a block of the day: its most recent known day's volumes. A block
    used so goes into `cols.used` (so into input_sha256: it is an input of the run)."""
    found: dict[int, Recent] = {}
    for i in np.flatnonzero(~cols.received).tolist():
        cose = edges.get(i)
        known = _decoded(cose) if cose is not None else None
        if known is None and history is not None:
            cose = history(points.rows[i].ap)
            known = _decoded(cose) if cose is not None else None
        if cose is None or known is None:
            continue
        (imp, exp), gw, seq = known
        if imp.sum() > 0 or exp.sum() > 0:
            found[i] = (imp, exp)
            cols.used.append((gw, points.rows[i].ap, seq, hashlib.sha256(cose).digest()))
    return found
