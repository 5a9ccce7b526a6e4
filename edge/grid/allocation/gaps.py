"""What to ask a gateway for, for a gap of the day: from the point's nearest stored blocks.

The run itself sees only the day and its two neighbours; a gateway away for longer left its
last block further back. `grid allocate` looks the point's newest earlier and oldest later day
block up in the store (`SqlStore.nearest_blocks`), whichever gateway sent them, and this turns
them into the seqs to resend: a chain has at most one day block a day, so the day's block is at
most as many seqs after the earlier one as there are days between them, and before the later
one. Pure: the store's answer comes in as values.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from edge.grid.allocation import Gap

Near = tuple[str, int, str]  # (gateway, seq, local day) of a stored day block


def resend_range(gap: Gap, day: date, before: Near | None, after: Near | None) -> Gap:
    """`gap` with the gateway and seqs the store tells (unchanged where it tells nothing).

    From an earlier block (gw, s, d): seqs s+1 … s+(day−d), and below the later block's seq if
    that is of the same gateway; from a later block alone (gw, s, d): seqs s−(d−day) … s−1 (none
    when that is below 1: the chain began after the day). The earlier block's gateway wins
    when the two differ (the chain that was running on the day).
    """
    if before is not None:
        gw, seq, seen = before
        last = seq + max(1, (day - date.fromisoformat(seen)).days)
        if after is not None and after[0] == gw:
            last = min(last, after[1] - 1)
        return replace(gap, gw=gw, first_seq=seq + 1, last_seq=last)
    if after is not None:
        gw, seq, seen = after
        first = max(1, seq - max(1, (date.fromisoformat(seen) - day).days))
        if first > seq - 1:
            return replace(gap, gw=gw, first_seq=None, last_seq=None)
        return replace(gap, gw=gw, first_seq=first, last_seq=seq - 1)
    return gap
