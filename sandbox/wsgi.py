"""WSGI entry for gunicorn: `gunicorn -w 1 --threads 8 sandbox.wsgi:app`.

One worker only: the sandbox keeps its state in memory, so a second worker would be a second Jimeng.
"""
from sandbox.app import create_sandbox

app = create_sandbox()
