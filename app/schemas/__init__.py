"""Marshmallow schemas, one module per resource; the OpenAPI spec is generated from them."""
