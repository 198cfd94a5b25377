"""Pure business rules: plain functions over plain data.

Nothing in this package imports Flask or SQLAlchemy (a test checks it), so the
rules are tested in milliseconds and hold for screens, API and imports alike.
"""
