"""Strings of Flask-AppBuilder's screens that its German catalogue lacks.

Listed here so that `make extract-messages` puts them into our catalogue,
which Flask-Babel merges over FAB's (ours wins). Also the role names, which
the staff form shows translated.
"""
from app.domain.errors import N_

FAB_MISSING = [
    N_("Add"), N_("Add Group"), N_("Are you sure you want to delete this item?"),
    N_("Database Error"), N_("Delete"), N_("Edit"), N_("Edit Group"),
    N_("Either select a role or a group"), N_("Groups"), N_("In"), N_("Not In"),
    N_("Not a valid choice"), N_("Show"), N_("Show Group"), N_("Sign In with "),
    N_("Start with"), N_("The user's password for authentication"),
    N_("User(s) exists in the group, cannot delete"),
    N_("User(s) exists in the role, cannot delete"),
]

ROLE_NAMES = [
    N_("Admin"), N_("Pool admin"), N_("Pool staff"), N_("Company admin"),
    N_("Intermediary"), N_("Customer"),
]
