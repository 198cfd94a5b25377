"""Screens and REST resources; `register_views` wires them all."""


def register_views(appbuilder) -> None:
    from app.views.fields import refuse_bad_choices_as_form_errors

    refuse_bad_choices_as_form_errors()
    from app.views import (
        contracts,
        crm,
        documents,
        extranet,
        imports,
        intermediaries,
        ledger,
        messages,
        products,
        settlement,
    )
    from app.views.lookup import LookupView

    appbuilder.add_view_no_menu(LookupView)
    crm.register(appbuilder)
    intermediaries.register(appbuilder)
    products.register(appbuilder)
    contracts.register(appbuilder)
    documents.register(appbuilder)
    ledger.register(appbuilder)
    settlement.register(appbuilder)
    messages.register(appbuilder)
    imports.register(appbuilder)
    extranet.register(appbuilder)
    from app.views import audit, privacy
    privacy.register(appbuilder)
    audit.register(appbuilder)
