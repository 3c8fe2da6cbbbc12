"""Probes beyond the stories: security (access control, SSO metadata), load, webhooks and the data-
warehouse export, and the loopback server they listen on."""
