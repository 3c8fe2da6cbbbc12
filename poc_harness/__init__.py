"""poc-harness: run the same PoC scenarios against every candidate CRM and grade the results."""

__version__ = "0.1.0"
