"""Vendor adapters shipped with poc-harness, one module per vendor (registered as entry points)."""
