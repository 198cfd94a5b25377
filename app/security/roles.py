"""The roles of domain.md and their permissions, declared once.

`flask pool init` seeds them into the database (additively: permissions an
admin grants in the Roles screen stay; removed ones come back on the next
init only if they are declared here). Roles are not put in FAB_ROLES, whose
roles cannot be edited in the UI.

Each resource has two permissions, `can_read` and `can_write`, shared by its
screens and its REST API (see app/views/base.py, METHOD_PERMISSIONS).
Data protection (app/views/privacy.py): `CustomerExport` (read: the export of
a customer the login may see) for intranet staff, `Restriction` (the
restricted customers: restrict, list, lift) for Pool admin (and Admin).
"""
from __future__ import annotations

from app.domain.access import (
    ADMIN,
    COMPANY_ADMIN,
    CUSTOMER,
    INTERMEDIARY,
    POOL_ADMIN,
    POOL_STAFF,
)

R, RW = "r", "rw"

#: resource -> access, per role. Admin holds every permission (FAB's admin role).
ROLE_RESOURCES: dict[str, dict[str, str]] = {
    POOL_ADMIN: {"Company": RW, "Staff": RW, "Customer": R, "Intermediary": R,
                 "Hierarchy": R, "Catalogue": R, "CustomerExport": R, "Restriction": RW,
                 "AuditTrail": R},
    POOL_STAFF: {"Company": R, "Staff": R, "Customer": RW, "Intermediary": RW,
                 "Application": RW, "Contract": RW, "Document": RW,
                 "Receipt": RW, "Booking": RW, "Settlement": RW, "Statement": R,
                 "Message": RW, "Reconciliation": R, "Import": RW,
                 "IntermediarySubobjects": RW, "Combination": RW, "Product": RW,
                 "MasterData": RW, "Hierarchy": R, "Catalogue": R, "CustomerExport": R},
    COMPANY_ADMIN: {"Company": RW, "Staff": RW, "Customer": RW, "Intermediary": R,
                    "Application": RW, "Contract": RW, "Document": RW,
                    "Hierarchy": R, "Catalogue": R, "CustomerExport": R},
    # The extranet: its own screens ("Extranet"), the shared REST resources;
    # the scope (app/security/scope.py) limits every row to its own.
    INTERMEDIARY: {"Catalogue": R, "Extranet": R, "Application": RW, "Contract": RW,
                   "Customer": RW, "Document": RW, "Booking": R, "Statement": R,
                   "Message": RW},
    # The digital customer folder.
    CUSTOMER: {"Folder": RW},
}

#: menu item -> (category, the resource whose read permission shows it).
MENU_ITEMS = {
    "Companies": ("Administration", "Company"),
    "Staff": ("Administration", "Staff"),
    "Audit trail": ("Administration", "AuditTrail"),
    "Customers": ("CRM", "Customer"),
    "Intermediaries": ("Own", "Intermediary"),
    "Combinations": ("Own", "Combination"),
    "Products": ("Products", "Product"),
    "Product catalogue": ("Products", "Catalogue"),
    "Product rates": ("Products", "Product"),
    "Lines of business": ("Products", "MasterData"),
    "Liability models": ("Products", "MasterData"),
    "Career levels": ("Products", "MasterData"),
    "Org chart": ("Organisation", "Hierarchy"),
    "Applications": ("Business", "Application"),
    "Contracts": ("Business", "Contract"),
    "Contract search": ("Business", "Contract"),
    "Former advisors": ("CRM", "Customer"),
    "Restricted customers": ("CRM", "Restriction"),
    "Receipts": ("Commission", "Receipt"),
    "Bookings": ("Commission", "Booking"),
    "Missing rates": ("Commission", "Booking"),
    "Settlement": ("Commission", "Settlement"),
    "Messages": ("Commission", "Message"),
    "Reconciliation": ("Commission", "Reconciliation"),
    "Insurer agreements": ("Products", "Product"),
    "Imports": ("Imports", "Import"),
    "Clearance cases": ("Imports", "Import"),
    "Import profiles": ("Imports", "Import"),
    "Broker numbers": ("Imports", "Import"),
}

#: menu items of the extranet and the customer folder: item -> resource
#: (top level, no category; the views say `extranet = True`)
EXTRANET_MENU = {
    "Overview": "Extranet",
    "My products": "Extranet",
    "My applications": "Extranet",
    "My contracts": "Extranet",
    "My customers": "Extranet",
    "My account": "Extranet",
    "My statements": "Extranet",
    "My messages": "Extranet",
    "My folder": "Folder",
    "My documents": "Folder",
    "My profile": "Folder",
}

#: every logged-in user may see its profile, change its password, search lookups.
COMMON = [
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_read", "Lookup"),
]

INTRANET_ROLES = (POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN)
ALL_ROLES = (ADMIN, POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN, INTERMEDIARY, CUSTOMER)


def declared_permissions(role: str) -> list[tuple[str, str]]:
    """(permission, view menu) pairs of a role."""
    perms: list[tuple[str, str]] = []
    resources = ROLE_RESOURCES.get(role, {})
    for resource, access in resources.items():
        perms.append(("can_read", resource))
        if "w" in access:
            perms.append(("can_write", resource))
    perms.extend(COMMON)
    categories = set()
    for item, resource in EXTRANET_MENU.items():
        if resource in resources:
            perms.append(("menu_access", item))
    for item, (category, resource) in MENU_ITEMS.items():
        if role in (INTERMEDIARY, CUSTOMER):
            break                       # no intranet menu for the extranet roles
        if resource in resources:
            perms.append(("menu_access", item))
            categories.add(category)
    perms.extend(("menu_access", c) for c in sorted(categories))
    return perms


def seed_roles(sm) -> None:
    """Create the roles and add their declared permissions (idempotent)."""
    admin = sm.find_role(ADMIN) or sm.add_role(ADMIN)
    for role_name in ALL_ROLES:
        role = sm.find_role(role_name) or sm.add_role(role_name)
        if role_name == ADMIN:
            continue
        have = {(p.permission.name, p.view_menu.name) for p in role.permissions}
        for perm, view in declared_permissions(role_name):
            if (perm, view) in have:
                continue
            pv = sm.add_permission_view_menu(perm, view)
            sm.add_permission_role(role, pv)
            if pv not in admin.permissions:
                sm.add_permission_role(admin, pv)
    sm.find_role(sm.auth_role_public) or sm.add_role(sm.auth_role_public)
