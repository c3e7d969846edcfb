"""HTTP only: parse, validate with a schema, call a service, shape the answer."""
