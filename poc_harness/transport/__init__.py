"""Talking to a vendor's API safely: the HTTP client with retries, answer parsing, writes never repeated
blindly, outage detection."""
