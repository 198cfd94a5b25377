"""All models, imported here so that the metadata is complete for Alembic."""
from app.models.audit import ChangeLog  # noqa: F401
from app.models.auth import AuthSession, LoginThrottle, UserTotp  # noqa: F401
from app.models.contracts import (  # noqa: F401
    Application,
    ApplicationStatus,
    Contract,
    ContractStatus,
    PaymentFrequency,
)
from app.models.crm import Company, CompanyKind, Customer, Staff  # noqa: F401
from app.models.documents import Document  # noqa: F401
from app.models.imports import (  # noqa: F401
    ClearanceCase,
    GdvRaw,
    ImportProfile,
    ImportRun,
    InsurerBrokerNumber,
)
from app.models.intermediaries import (  # noqa: F401
    Combination,
    CombinationMember,
    Intermediary,
    IntermediaryLevel,
    IntermediaryRate,
    IntermediaryStatus,
)
from app.models.ledger import (  # noqa: F401
    Booking,
    BookingKind,
    LedgerHead,
    MissingRate,
    Receipt,
    ReceiptKind,
)
from app.models.messages import Message, MessageRead, MessageThread  # noqa: F401
from app.models.products import (  # noqa: F401
    CareerLevel,
    CommissionModel,
    LiabilityMethod,
    LiabilityModel,
    LineOfBusiness,
    Product,
    ProductRate,
)
