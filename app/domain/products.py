"""Rules of products, lines of business and liability models."""
from __future__ import annotations

import re
from decimal import Decimal

from app.domain.errors import N_, InvalidValueError
from app.domain.values import to_decimal

METHODS = ("PRO_RATA", "FULL", "STAGED", "COMBINED")


def check_line_code(code: str | None) -> None:
    if not code or not re.fullmatch(r"[0-9]{3}", code):
        raise InvalidValueError("code", N_("A GDV line code has three digits, e.g. 010."))


def check_product_rate_target(product_id, line_id) -> None:
    if (product_id is None) == (line_id is None):
        raise InvalidValueError("product", N_("Give either a product or a line of business."))


def check_liability_model(months, method, full_months, stages):
    """Validate a liability model; returns the stages normalised
    ([{"months": int, "percent": "decimal string"}], ascending) or None."""
    if months is None or not isinstance(months, int) or months < 1:
        raise InvalidValueError("months", N_("Must be at least %(min)s."), min="1")
    if method not in METHODS:
        raise InvalidValueError("method", N_("Not a valid choice."))
    if method == "COMBINED":
        if full_months is None or not 0 < full_months < months:
            raise InvalidValueError("full_months", N_(
                "Give the months of full liability, fewer than the liability months."))
    if method != "STAGED":
        if stages:
            raise InvalidValueError("stages", N_("Only a STAGED model has stages."))
        return None
    if not isinstance(stages, list) or not stages:
        raise InvalidValueError("stages", N_(
            "A STAGED model needs stages: up to which month which percent is liable."))
    result, last_month, last_percent = [], 0, Decimal(101)
    for stage in stages:
        if not isinstance(stage, dict) or set(stage) != {"months", "percent"}:
            raise InvalidValueError("stages", N_(
                "Each stage has exactly the keys months and percent."))
        m = stage["months"]
        if not isinstance(m, int) or isinstance(m, bool) or not last_month < m <= months:
            raise InvalidValueError("stages", N_(
                "Stage months must rise and end at most at the liability months."))
        p = to_decimal(stage["percent"], "stages", 4, 0, 100)
        if p is None or p > last_percent:
            raise InvalidValueError("stages", N_("Liable percentages must not rise."))
        result.append({"months": m, "percent": str(p)})
        last_month, last_percent = m, p
    return result


def parse_stages(text: str | None):
    """'12:100; 24:50; 60:20' -> [{"months": 12, "percent": "100"}, ...] (form input)."""
    if not text or not text.strip():
        return None
    stages = []
    for part in re.split(r"[;\n]+", text.strip()):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*(\d+)\s*:\s*([0-9]+(?:[.,][0-9]+)?)\s*%?\s*", part)
        if not m:
            raise InvalidValueError("stages", N_(
                "Write stages as month:percent separated by semicolons, e.g. 12:100; 24:50."))
        stages.append({"months": int(m.group(1)), "percent": m.group(2).replace(",", ".")})
    return stages


def format_stages(stages) -> str:
    return "; ".join(f"{s['months']}:{s['percent']}" for s in stages or [])
