"""Helpers for Rampart end-to-end tests: private Postfix, SMTP sink, loopback DNS, daemons."""
