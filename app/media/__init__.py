"""User media in: URLs, data URIs and uploads, and what the bytes are."""
