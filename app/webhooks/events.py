"""The event names, one table: the schemas validate against it, registration and the docs read it."""
from __future__ import annotations

# The events of each kind of task; a submit that names none gets both (the terminal events).
EVENTS = {"video": ("video.completed", "video.failed"), "image": ("image.completed", "image.failed")}
ALL_EVENTS = (*EVENTS["video"], *EVENTS["image"])
