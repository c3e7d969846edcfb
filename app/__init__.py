"""jimeng-api: an asynchronous, stateless HTTP API over Jimeng's video and image generation.

The app itself is built by `app.factory.create_app`; this package's face loads nothing, so its
lower parts (the Jimeng client, the gevent worker) can be imported without Flask.
"""

__version__ = "0.1.0"
