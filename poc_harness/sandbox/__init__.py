"""The embedded reference CRM: a REST API with an automation engine, a virtual clock and defect profiles."""
