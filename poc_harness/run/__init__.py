"""One trial run: the buyer's calendar and lead plan, seeding, the stories that drive the CRM, the ledger
of what was seeded and expected, cleanup, exit codes and results."""
