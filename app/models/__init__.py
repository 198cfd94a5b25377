"""All models, imported here so that the metadata is complete for Alembic."""
from app.models.crm import Company, CompanyKind, Customer, Staff  # noqa: F401
from app.models.intermediaries import Intermediary, IntermediaryStatus  # noqa: F401
