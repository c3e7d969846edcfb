"""The sandbox: a fake Jimeng for demos and end-to-end tests (see sandbox/README.md)."""
from sandbox.app import create_sandbox

__all__ = ["create_sandbox"]
