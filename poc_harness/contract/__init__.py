"""The contract every vendor adapter implements: the adapter class, its capabilities, the record and view
models, batch and load-target types."""
