"""Outbound HTTP: address rules, token proxies, deadlines and the Sessions every caller uses."""
