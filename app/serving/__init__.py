"""Serving: the gevent worker, the stop signal, logs and metrics."""
