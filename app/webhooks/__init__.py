"""Webhooks: a signed callback when a task ends, watched and delivered on a task engine (huey).

registration.py  at submit: the request's webhook checked (before anything is sent), the task watched
engine.py        `Webhooks` (app.extensions["webhooks"]): the huey instance (SQLite under DATA_DIR, or
                 Redis with REDIS_URL), its jobs (poll, deliver, sweep), and `task_ended(state,
                 secret_key)`: "this task ended, fire its event if it has a webhook" (cancel calls it)
store.py         durable records: watched tasks, pending deliveries, each task's webhook state
watching.py      one poll of one account: one history call for all its watched tasks
delivery.py      one attempt: POST, read a little, decide the next step (the retry schedule)
targets.py       where an event may go (the media URL rules), checked at submit and at delivery
signing.py       Standard Webhooks signatures and the secret's format
sealed.py        session ids at rest, sealed under a key derived from SECRET_KEY
keys.py          a task's identity in these records (the event names: app/schemas/tasks.py)
setup.py         wiring into create_app; consumer.py `jimeng-api-consumer`; supervisor.py the
                 gunicorn master's consumer

Nothing here imports a view: the jobs use the app's services, and each route family's answer
shape is handed in by create_app.
"""
