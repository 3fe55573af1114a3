"""Accounts and access: users (argon2id passwords), API tokens, project roles, browser sessions,
the permission decisions (``policy.py``, ``guard.py``) and the audit log's reader.

This package's ``__init__`` imports nothing: ``reelforge.catalog.common`` reads the acting user from
``access.actor`` at import time, and an eager import here would make a circle.
"""
