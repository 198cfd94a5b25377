"""Screens and REST resources of products and master data, and the product
catalogue (Produktpräsentation) for brokers."""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from wtforms import StringField

from app.domain.errors import DomainError
from app.domain.products import format_stages, parse_stages
from app.extensions import db
from app.models.crm import Company, CompanyKind
from app.models.products import (
    CareerLevel,
    CommissionModel,
    LiabilityMethod,
    LiabilityModel,
    LineOfBusiness,
    Product,
    ProductRate,
)
from app.views.base import PoolModelRestApi, PoolModelView, datamodel
from app.views.documents import DocumentView
from app.views.fields import enum_select
from app.views.lookup import lookup_field, register_lookup

METHOD_LABELS = {
    LiabilityMethod.PRO_RATA: _l("Pro rata"),
    LiabilityMethod.FULL: _l("Full"),
    LiabilityMethod.STAGED: _l("Staged"),
    LiabilityMethod.COMBINED: _l("Combined (full, then pro rata)"),
}
MODEL_LABELS = {
    CommissionModel.contract_percent: _l("Contract percentage model"),
    CommissionModel.product_rate: _l("Product rate model"),
    CommissionModel.product_units: _l("Product units model"),
}

LABELS = {
    "code": _l("GDV code"), "name": _l("Name"), "reserve_applies": _l("Reserve retained"),
    "months": _l("Liability months"), "method": _l("Method"),
    "full_months": _l("Months of full liability"), "stages": _l("Stages"),
    "rank": _l("Rank"), "value_per_unit": _l("€ per unit"),
    "insurer": _l("Insurer"), "insurer.name": _l("Insurer"),
    "line_of_business": _l("Line of business"), "line_of_business.name": _l("Line of business"),
    "line_of_business.code": _l("Line"), "key": _l("Product key"),
    "description": _l("Description"), "active": _l("Active"),
    "pool_ap_rate": _l("Pool AP %"), "pool_ap_zv_rate": _l("Pool AP ZV %"),
    "pool_fp_rate": _l("Pool FP %"), "units_per_1000": _l("Units per 1,000 €"),
    "commission_model": _l("Commission model"), "product": _l("Product"),
    "product.name": _l("Product"), "career_level": _l("Career level"),
    "career_level.name": _l("Career level"), "ap_rate": _l("AP %"),
    "ap_zv_rate": _l("AP ZV %"), "fp_rate": _l("FP %"),
    "liability_model": _l("Liability model"),
}


class StagesField(StringField):
    """Stages typed as '12:100; 24:50; 60:20' (month:liable percent)."""

    def _value(self):
        return self.raw_data[0] if self.raw_data else format_stages(self.data)

    def process_formdata(self, valuelist):
        try:
            self.data = parse_stages(valuelist[0] if valuelist else "")
        except DomainError as exc:
            self.data = None
            raise ValueError(str(exc)) from None


class LineOfBusinessView(PoolModelView):
    datamodel = datamodel(LineOfBusiness)
    class_permission_name = "MasterData"
    list_title = _l("Lines of business")
    show_title = add_title = edit_title = _l("Line of business")
    label_columns = LABELS
    list_columns = ["code", "name", "reserve_applies"]
    add_columns = edit_columns = show_columns = ["code", "name", "reserve_applies"]
    search_columns = ["code", "name"]
    base_order = ("code", "asc")


class LiabilityModelView(PoolModelView):
    datamodel = datamodel(LiabilityModel)
    class_permission_name = "MasterData"
    list_title = _l("Liability models")
    show_title = add_title = edit_title = _l("Liability model")
    label_columns = LABELS
    list_columns = ["name", "method", "months", "full_months"]
    add_columns = edit_columns = show_columns = ["name", "method", "months", "full_months",
                                                 "stages"]
    search_columns = ["name", "method"]
    formatters_columns = {"method": lambda v: METHOD_LABELS.get(v, v), "stages": format_stages}
    description_columns = {
        "stages": _l("Only for staged models: up to which month which percent is liable, "
                     "e.g. 12:100; 24:50; 60:20"),
        "full_months": _l("Only for combined models."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "method": enum_select(_l("Method"), METHOD_LABELS),
        "stages": StagesField(_l("Stages"), description=_l(
            "Only for staged models: up to which month which percent is liable, "
            "e.g. 12:100; 24:50; 60:20")),
    }


class CareerLevelView(PoolModelView):
    datamodel = datamodel(CareerLevel)
    class_permission_name = "MasterData"
    list_title = _l("Career levels")
    show_title = add_title = edit_title = _l("Career level")
    label_columns = LABELS
    list_columns = add_columns = edit_columns = show_columns = ["rank", "name", "value_per_unit"]
    base_order = ("rank", "asc")


class ProductRateView(PoolModelView):
    datamodel = datamodel(ProductRate, eager=("product", "line_of_business", "career_level"))
    class_permission_name = "Product"
    list_title = _l("Product rates")
    show_title = add_title = edit_title = _l("Product rate")
    label_columns = LABELS
    list_columns = ["product.name", "line_of_business.name", "career_level.name", "ap_rate",
                    "ap_zv_rate", "fp_rate"]
    add_columns = edit_columns = show_columns = ["product", "line_of_business", "career_level",
                                                 "ap_rate", "ap_zv_rate", "fp_rate"]
    search_columns = ["career_level", "line_of_business"]
    add_form_extra_fields = edit_form_extra_fields = {
        "product": lookup_field("Product", "product"),
    }


class ProductView(PoolModelView):
    show_template = "owner_show.html"
    datamodel = datamodel(Product, eager=("insurer", "line_of_business"))
    class_permission_name = "Product"
    list_title = _l("Products")
    show_title = add_title = edit_title = _l("Product")
    label_columns = LABELS
    list_columns = ["name", "key", "insurer.name", "line_of_business.name", "active",
                    "pool_ap_rate", "pool_fp_rate"]
    show_columns = add_columns = edit_columns = [
        "insurer", "line_of_business", "key", "name", "description", "active", "pool_ap_rate",
        "pool_ap_zv_rate", "pool_fp_rate", "units_per_1000", "commission_model"]
    search_columns = ["name", "key", "line_of_business", "active"]
    order_columns = ["name", "key", "active"]
    base_order = ("name", "asc")
    related_views = [DocumentView, ProductRateView]
    formatters_columns = {"commission_model": lambda v: MODEL_LABELS.get(v, v)}
    description_columns = {
        "commission_model": _l("Empty: the pool's setting applies."),
        "pool_ap_rate": _l("Commission agreement: what the pool receives from the insurer."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "insurer": lookup_field("Insurer", "company", required=True, kind="INSURER"),
        "commission_model": enum_select(_l("Commission model"), MODEL_LABELS, required=False),
    }


# --- REST API ---------------------------------------------------------------

class LineOfBusinessApi(PoolModelRestApi):
    resource_name = "line_of_business"
    datamodel = datamodel(LineOfBusiness)
    class_permission_name = "MasterData"
    list_columns = show_columns = ["id", "code", "name", "reserve_applies"]
    add_columns = edit_columns = ["code", "name", "reserve_applies"]
    search_columns = ["code", "name"]
    order_columns = ["id", "code", "name"]


class LiabilityModelApi(PoolModelRestApi):
    resource_name = "liability_model"
    datamodel = datamodel(LiabilityModel)
    class_permission_name = "MasterData"
    list_columns = show_columns = ["id", "name", "months", "method", "full_months", "stages"]
    add_columns = edit_columns = ["name", "months", "method", "full_months", "stages"]
    search_columns = ["name", "method"]
    order_columns = ["id", "name"]


class CareerLevelApi(PoolModelRestApi):
    resource_name = "career_level"
    datamodel = datamodel(CareerLevel)
    class_permission_name = "MasterData"
    list_columns = show_columns = ["id", "rank", "name", "value_per_unit"]
    add_columns = edit_columns = ["rank", "name", "value_per_unit"]
    order_columns = ["id", "rank"]


class ProductApi(PoolModelRestApi):
    resource_name = "product"
    datamodel = datamodel(Product)
    class_permission_name = "Product"
    list_columns = show_columns = [
        "id", "insurer.id", "insurer.name", "line_of_business.id", "line_of_business.code",
        "key", "name", "description", "active", "pool_ap_rate", "pool_ap_zv_rate",
        "pool_fp_rate", "units_per_1000", "commission_model"]
    add_columns = edit_columns = [
        "insurer", "line_of_business", "key", "name", "description", "active", "pool_ap_rate",
        "pool_ap_zv_rate", "pool_fp_rate", "units_per_1000", "commission_model"]
    search_columns = ["name", "key", "insurer", "line_of_business", "active"]
    order_columns = ["id", "name", "key"]


class ProductRateApi(PoolModelRestApi):
    resource_name = "product_rate"
    datamodel = datamodel(ProductRate)
    class_permission_name = "Product"
    list_columns = show_columns = ["id", "product.id", "line_of_business.id", "career_level.id",
                                   "ap_rate", "ap_zv_rate", "fp_rate"]
    add_columns = edit_columns = ["product", "line_of_business", "career_level", "ap_rate",
                                  "ap_zv_rate", "fp_rate"]
    search_columns = ["product", "line_of_business", "career_level"]
    order_columns = ["id"]


# --- catalogue ----------------------------------------------------------------

class CatalogueView(BaseView):
    """Produktpräsentation: active products by line and insurer, read-only."""

    route_base = "/catalogue"
    class_permission_name = "Catalogue"
    #: also the extranet's product catalogue (with the broker's own rates)
    extranet = True
    method_permission_name = {"index": "read", "product": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        q = (request.args.get("q") or "").strip()
        line = request.args.get("line", type=int)
        insurer = request.args.get("insurer", type=int)
        stmt = (select(Product).where(Product.active.is_(True))
                .options(selectinload(Product.insurer), selectinload(Product.line_of_business))
                .order_by(Product.name))
        if q:
            like = "%" + q.replace("%", r"\%").replace("_", r"\_") + "%"
            stmt = stmt.where(or_(Product.name.ilike(like, escape="\\"),
                                  Product.key.ilike(like, escape="\\"),
                                  Product.description.ilike(like, escape="\\")))
        if line:
            stmt = stmt.where(Product.line_of_business_id == line)
        if insurer:
            stmt = stmt.where(Product.insurer_id == insurer)
        products = db.session.execute(stmt.limit(500)).scalars().all()
        lines = db.session.execute(select(LineOfBusiness).where(LineOfBusiness.id.in_(
            select(Product.line_of_business_id).where(Product.active.is_(True))))
            .order_by(LineOfBusiness.code)).scalars().all()
        insurers = db.session.execute(select(Company).where(
            Company.kind == CompanyKind.INSURER, Company.id.in_(
                select(Product.insurer_id).where(Product.active.is_(True))))
            .order_by(Company.name)).scalars().all()
        return self.render_template("catalogue.html", products=products, lines=lines,
                                    insurers=insurers, q=q, line=line, insurer=insurer)

    @expose("/product/<int:pk>")
    @has_access
    def product(self, pk):
        product = db.session.get(Product, pk)
        if product is None or not product.active:
            abort(404)
        rates = db.session.execute(
            select(ProductRate).join(CareerLevel).where(or_(
                ProductRate.product_id == pk,
                ProductRate.line_of_business_id == product.line_of_business_id))
            .order_by(CareerLevel.rank)).scalars().all()
        own = {r.career_level_id: r for r in rates if r.product_id == pk}
        default = {r.career_level_id: r for r in rates if r.product_id is None}
        levels = db.session.execute(select(CareerLevel).order_by(CareerLevel.rank)).scalars().all()
        table = [(lvl, own.get(lvl.id) or default.get(lvl.id)) for lvl in levels
                 if lvl.id in own or lvl.id in default]
        return self.render_template("catalogue_product.html", product=product, table=table,
                                    model_label=MODEL_LABELS.get(product.commission_model))


def register(appbuilder):
    # Choosing a product (applications, contracts) needs the catalogue, which
    # every role that enters applications reads, not the product master data.
    register_lookup("product", Product, "Catalogue", [Product.name, Product.key],
                    [Product.name])
    cat = "Products"
    appbuilder.add_view(ProductView, "Products", label=_l("Products"), icon="fa-cube",
                        category=cat, category_label=_l("Products"))
    appbuilder.add_view(CatalogueView, "Product catalogue", label=_l("Product catalogue"),
                        icon="fa-book", category=cat)
    appbuilder.add_view(ProductRateView, "Product rates", label=_l("Product rates"),
                        icon="fa-percent", category=cat)
    appbuilder.add_view(LineOfBusinessView, "Lines of business", label=_l("Lines of business"),
                        icon="fa-list", category=cat)
    appbuilder.add_view(LiabilityModelView, "Liability models", label=_l("Liability models"),
                        icon="fa-undo", category=cat)
    appbuilder.add_view(CareerLevelView, "Career levels", label=_l("Career levels"),
                        icon="fa-signal", category=cat)
    for api in (LineOfBusinessApi, LiabilityModelApi, CareerLevelApi, ProductApi,
                ProductRateApi):
        appbuilder.add_api(api)
