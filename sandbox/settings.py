"""Sandbox settings: defaults, then the environment, then what `create_sandbox` is given."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace

from sandbox.catalogue import DEFAULT_REMOVED_MODELS
from sandbox.drift import NO_DRIFT, Drift, parse_drift

ENVIRONMENT = {"queue_seconds": "SANDBOX_QUEUE_SECONDS", "generate_seconds": "SANDBOX_GENERATE_SECONDS",
               "latency_ms": "SANDBOX_LATENCY_MS", "start_credits": "SANDBOX_START_CREDITS"}
# Update 2.1: the CN models whose generate call needs the page's signature (the set has grown before).
PROTECTED_MODELS = frozenset({"dreamina_seedance_40_pro", "dreamina_seedance_40"})


@dataclass(frozen=True)
class Settings:
    clock: Callable[[], float] = time.time   # injectable so tests move time instead of sleeping
    queue_seconds: float = 2.0               # default time a record waits in the queue
    generate_seconds: float = 4.0            # default time it then spends generating
    latency_ms: float = 0.0                  # added to every non-admin call, for benchmarks
    max_skew_seconds: float = 300.0          # allowed Device-Time distance from the clock
    start_credits: float = 100_000           # purchased credits of an ordinary session (sandbox/credits.py)
    protected_models: frozenset[str] = PROTECTED_MODELS   # CN root_models that need a_bogus
    shark_legacy: bool = False               # answer CN signature failures as in Feb 2026 (1019)
    # model_req_keys answered with ret 2061 and left out of get_common_config (SANDBOX_REMOVED_MODELS,
    # comma separated; "none" for none).
    removed_models: frozenset[str] = field(default=DEFAULT_REMOVED_MODELS)
    # Jimeng moved (SANDBOX_DRIFT, sandbox/drift.py): what today's client sends is refused.
    drift: Drift = NO_DRIFT

    @classmethod
    def load(cls, overrides: Mapping | None = None) -> Settings:
        values: dict = {}
        for name, env in ENVIRONMENT.items():
            raw = os.environ.get(env, "").strip()
            if raw:
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise RuntimeError(f"{env} must be a number, got {raw!r}") from None
        models = os.environ.get("SANDBOX_PROTECTED_MODELS")
        if models is not None:
            values["protected_models"] = frozenset(m.strip() for m in models.split(",") if m.strip())
        if os.environ.get("SANDBOX_SHARK_LEGACY", "").strip() == "1":
            values["shark_legacy"] = True
        removed = os.environ.get("SANDBOX_REMOVED_MODELS", "").strip()
        if removed:
            values["removed_models"] = frozenset() if removed.lower() == "none" else frozenset(
                k.strip() for k in removed.split(",") if k.strip())
        drift = os.environ.get("SANDBOX_DRIFT", "").strip()
        if drift:
            values["drift"] = parse_drift(drift)
        overrides = dict(overrides or {})
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown sandbox setting(s) {sorted(unknown)}")
        if isinstance(overrides.get("drift"), str):
            overrides["drift"] = parse_drift(overrides["drift"])
        settings = cls(**{**values, **overrides})
        if settings.drift.retired:
            settings = replace(settings, removed_models=settings.removed_models | settings.drift.retired)
        return settings
