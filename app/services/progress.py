"""A progress number that never goes backwards, computed without stored state.

It depends only on time since submit and the forecast fixed in the task id, so every worker on
every host answers the same for the same moment; the status bands keep it ordered:
pending stays below PENDING_CEILING, processing starts there, 100 only when completed.
"""
from __future__ import annotations

import math

PENDING_CEILING = 15
RUNNING_CEILING = 99
DEFAULT_FORECAST = {"video": 300, "image": 60}


def time_progress(elapsed_s: float, forecast_s: int) -> float:
    """0..99 along an exponential approach: forecast reached at ~63%, never 100."""
    scale = max(forecast_s, 1)
    return RUNNING_CEILING * (1 - math.exp(-max(elapsed_s, 0) / scale))


def progress_for(status: str, elapsed_s: float, forecast_s: int) -> int:
    if status == "completed":
        return 100
    p = time_progress(elapsed_s, forecast_s)
    if status == "pending":
        return int(min(p, PENDING_CEILING))
    return int(min(max(p, PENDING_CEILING), RUNNING_CEILING))
