"""Rules of the company tree (Unternehmenshierarchie)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.domain.errors import CompanyCycleError


def check_parent(company_id: int | None, parent_id: int | None,
                 parent_of: Mapping[int, int | None]) -> None:
    """Refuse a parent that would put a company below itself.

    `parent_of` maps every existing company id to its parent id. A new company
    (company_id None) can never close a cycle.
    """
    if parent_id is None or company_id is None:
        return
    seen = set()
    node: int | None = parent_id
    while node is not None:
        if node == company_id:
            raise CompanyCycleError("parent")
        if node in seen:  # an existing cycle in bad data: stop, refuse
            raise CompanyCycleError("parent")
        seen.add(node)
        node = parent_of.get(node)


def subtree(root_ids: Iterable[int], parent_of: Mapping[int, int | None]) -> frozenset[int]:
    """All company ids at or below the given roots."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)
    result: set[int] = set()
    stack = [r for r in root_ids if r in parent_of]
    while stack:
        node = stack.pop()
        if node in result:
            continue
        result.add(node)
        stack.extend(children.get(node, ()))
    return frozenset(result)
