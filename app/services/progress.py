"""A progress number that never goes backwards, computed without stored state.

Its inputs are fixed for a task or only grow: the time since Jimeng created it (the record's
`created_time`, which the task id holds), the kind's typical duration (`TaskKind.forecast`, one
constant per kind; ids of version 1 keep the forecast they carry) and the share of results
delivered (a count Jimeng only raises). Never anything Jimeng may revise between polls (its queue
and generation forecasts, or a queue state that flips back), so every worker on every host answers
the same for the same moment, and later answers are never lower.
"""
from __future__ import annotations

import math

RUNNING_CEILING = 99


def progress_for(status: str, elapsed_s: float, forecast_s: int, *, done_fraction: float = 0.0) -> int:
    """100 when completed; otherwise 0..99 along an exponential approach (~63% at the forecast),
    raised to the share of results already delivered (images arrive one by one, and a count of
    delivered results never goes down)."""
    if status == "completed":
        return 100
    scale = max(forecast_s, 1)
    by_time = RUNNING_CEILING * (1 - math.exp(-max(elapsed_s, 0) / scale))
    return int(min(max(by_time, RUNNING_CEILING * done_fraction), RUNNING_CEILING))
