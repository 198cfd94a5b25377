"""Domain exceptions. Each names the field (or rule) it is about.

Messages are English msgids marked with N_ for extraction; the web layer
translates them with gettext, so the domain stays free of Flask.
"""
from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802  (gettext marker for pybabel)
    return message


class DomainError(Exception):
    """A refused change: `field` is the form/API field it concerns."""

    message = N_("This change is not allowed.")

    def __init__(self, field: str | None = None, message: str | None = None, **params):
        self.field = field
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.message % params if params else self.message)


class RequiredFieldError(DomainError):
    message = N_("This field is required.")


class InvalidChoiceError(DomainError):
    message = N_("Not a valid choice.")


class CompanyCycleError(DomainError):
    message = N_("A company cannot be placed below itself or one of its own subsidiaries.")


class OutOfScopeError(DomainError):
    """The object lies outside the caller's company subtree."""

    message = N_("Not a valid choice.")


class PasswordPolicyError(DomainError):
    message = N_("The password must have between %(min)d and %(max)d characters.")


class RoleNotGrantableError(DomainError):
    message = N_("You may not grant this role.")


class InvalidValueError(DomainError):
    message = N_("Invalid value.")


class StatusChangeError(DomainError):
    message = N_("This status change is not allowed.")


class AssignmentError(DomainError):
    message = N_("Only an intermediary with status ACTIVE can be newly assigned.")


class GroupError(DomainError):
    message = N_("The group of an intermediary must be an intermediary with status GROUP; "
                 "a group has no group.")


class AmbiguousRateError(DomainError):
    message = N_("Another rate row of this intermediary has the same criteria and an "
                 "overlapping term range: the two rows would match the same contract.")


class HierarchyCycleError(DomainError):
    message = N_("This supervisor would close a cycle in the sales hierarchy.")


class DuplicateLevelDateError(DomainError):
    message = N_("This intermediary already has a hierarchy entry on this date.")


class CombinationSharesError(DomainError):
    message = N_("The shares of a combination must sum to exactly 100 %.")


class TransitionError(DomainError):
    message = N_("This status change is not allowed: %(old)s → %(new)s.")


class DocumentError(DomainError):
    message = N_("This file cannot be accepted.")


class RunUnderWayError(DomainError):
    """Answered with 409: another settlement run holds the lock."""

    message = N_("A settlement run is under way. Try again when it has finished.")
