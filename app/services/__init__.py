"""Use cases: each loads rows, calls app/domain, writes, and owns one commit
(or, when called from a FAB hook, leaves the commit to FAB's save)."""
