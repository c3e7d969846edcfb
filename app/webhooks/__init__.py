"""Webhooks: a signed callback when a task ends, watched and delivered on a task engine (huey).

registration.py  at submit: the request's webhook checked (before anything is sent) and the task watched
engine.py        the huey instance (SQLite under DATA_DIR, or Redis with REDIS_URL) and its jobs
store.py         durable records: watched tasks, pending deliveries, each task's webhook state
watching.py      one poll of one account: one history call for all its watched tasks
delivery.py      one attempt: sign, POST, read a little, decide the next step
targets.py       where an event may go (the media URL rules), checked at submit and at delivery
signing.py       Standard Webhooks signatures and the secret's format
sealed.py        session ids at rest, sealed under a key derived from SECRET_KEY
consumer.py      `jimeng-api-consumer`: the engine's consumer, with the app's services

Nothing here imports Flask views; the consumer builds the app only for its services and settings.
"""
