"""Use cases: submit, query, batch, wait. No Flask here and no wire details."""
