"""Fields for numbers and lists: German number entry in forms, decimal
strings in the API (interfaces.md: "987.65", "80.0000")."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import get_locale, gettext
from marshmallow import ValidationError, fields
from wtforms import Field


def _locale():
    return str(get_locale() or "de")


def format_number(value, places: int, grouping: bool = True) -> str:
    """1234.5 -> '1.234,50' in German (at least `places` decimals for money)."""
    if value is None:
        return ""
    pattern = ("#,##0" if grouping else "0") + ("." + "0" * min(places, 2) + "#" * max(places - 2, 0)
                                                 if places else "")
    return format_decimal(Decimal(value), format=pattern, locale=_locale())


class DecimalString(fields.Field):
    """Decimal in and out as a string with the column's decimal places.
    Numbers are accepted on input; over-precise input is refused, not rounded."""

    def __init__(self, places: int, **kwargs):
        self.places = places
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(Decimal(value).quantize(Decimal(1).scaleb(-self.places)))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError(gettext("Not a valid number."))
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(gettext("Not a valid number.")) from None
        if not number.is_finite():
            raise ValidationError(gettext("Not a valid number."))
        if number.as_tuple().exponent < -self.places:
            raise ValidationError(gettext("At most %(places)d decimal places.",
                                          places=self.places))
        return number


class GermanDecimalField(Field):
    """A number typed as the user's locale writes it: '1.234,56' in German."""

    widget = BS3TextFieldWidget()

    def __init__(self, label=None, validators=None, places: int = 2, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.places = places
        self._raw = None

    def _value(self):
        if self._raw is not None:
            return self._raw
        return format_number(self.data, self.places, grouping=False) if self.data is not None else ""

    def process_formdata(self, valuelist):
        self._raw = valuelist[0].strip() if valuelist else None
        if not self._raw:
            self.data = None
            return
        try:
            number = parse_decimal(self._raw.replace(" ", ""), locale=_locale(), strict=True)
        except NumberFormatError:
            self.data = None
            raise ValueError(gettext("Not a valid number.")) from None
        if number.as_tuple().exponent < -self.places:
            self.data = None
            raise ValueError(gettext("At most %(places)d decimal places.", places=self.places))
        self.data = number


def enum_select(label, labels, required=True):
    """A select of an enum's members with translated labels ({member: label}).
    An unknown value stays as given, so the select refuses it as "not a valid
    choice" instead of failing to convert it."""
    from flask_appbuilder.fieldwidgets import Select2Widget
    from wtforms import SelectField
    from wtforms.validators import DataRequired, Optional

    enum_type = type(next(iter(labels)))
    return SelectField(
        label, choices=([] if required else [("", "")]) + [(k.value, v) for k, v in labels.items()],
        coerce=lambda v: enum_type(v) if v in enum_type.__members__ else (v or None),
        validators=[DataRequired()] if required else [Optional()], widget=Select2Widget())


def refuse_bad_choices_as_form_errors() -> None:
    """FAB's EnumField refuses an unknown or empty choice with a ValueError,
    which WTForms 3 no longer turns into a field error: the form answered 500.
    Raised as a ValidationError it is the field's message."""
    from flask_appbuilder.fields import EnumField
    from wtforms.validators import ValidationError

    if getattr(EnumField.pre_validate, "pool_patched", False):
        return
    original = EnumField.pre_validate

    def pre_validate(self, form):
        try:
            original(self, form)
        except ValidationError:
            raise
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    pre_validate.pool_patched = True
    EnumField.pre_validate = pre_validate
