"""FAB's password hook, backed by the domain's length-only rule."""
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext

from app.domain.access import check_password
from app.domain.errors import PasswordPolicyError


def password_validator(password: str) -> None:
    """Used by FAB's user and reset-password forms (FAB_PASSWORD_COMPLEXITY_VALIDATOR)."""
    try:
        check_password(password)
    except PasswordPolicyError as exc:
        raise PasswordComplexityValidationError(gettext(exc.message, **exc.params)) from None
