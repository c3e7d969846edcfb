"""gunicorn's logger, minus the access line nobody reads.

gunicorn builds its access line (a dozen atoms from the request, the answer and the environ) for
every request whenever a logging config is given, and only then asks the `gunicorn.access` logger
whether to write it. Ours sets that logger to WARNING (the app writes its own line per request,
app/factory.py), so every line was built and thrown away: about 3% of a status query's CPU under a
poller storm (docs/benchmarks.md). This logger builds it only when it would be written.
"""
from __future__ import annotations

import logging

from gunicorn.glogging import Logger


class AccessAwareLogger(Logger):
    """gunicorn's Logger whose access line is built only if `gunicorn.access` would write it at INFO."""

    def setup(self, cfg) -> None:
        super().setup(cfg)   # applies logconfig_dict, which sets the access logger's level
        self._access_log_enabled = self._access_log_enabled and self.access_log.isEnabledFor(logging.INFO)
