"""Roles, permissions and the company scope of the logged-in user."""
