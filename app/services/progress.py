"""A progress number that never goes backwards, computed without stored state.

It depends only on the time since submit and the forecast fixed when the task id was made, never
on anything Jimeng may revise (its forecasts, or a queue state that flips back), so every worker on
every host answers the same for the same moment, and later answers are never lower.
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
