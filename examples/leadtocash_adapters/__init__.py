"""Reference adapters for leadtocash's ports: SQLite, PostgreSQL, SMTP, webhook, token auth.

They import only leadtocash's public API, so they double as worked examples for integrators.
"""
