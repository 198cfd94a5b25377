"""Scheduled jobs. Each pushes an app context and calls one idempotent
service; the scheduler runs as its own single process (`flask pool scheduler`),
never inside web workers."""
