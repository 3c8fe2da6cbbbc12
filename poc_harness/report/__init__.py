"""The steering committee's reports: acceptance JSON, then HTML rendered from it (one vendor or several)."""
