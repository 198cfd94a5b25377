"""The start page: a short status for the logged-in user."""
from flask_appbuilder import IndexView, expose
from sqlalchemy import func, select

from app.extensions import db


class PoolIndexView(IndexView):
    index_template = "pool_index.html"

    @expose("/")
    def index(self):
        from flask import redirect, url_for

        from app.security.scope import current_scope

        scope = current_scope()
        if scope.principal == "intermediary":
            return redirect(url_for("ExtranetView.index"))
        if scope.principal == "customer":
            return redirect(url_for("FolderView.index"))
        former = None
        sm = self.appbuilder.sm
        if sm.current_user and sm.has_access("can_read", "Customer"):
            from app.models.crm import Customer
            from app.models.intermediaries import Intermediary, IntermediaryStatus
            from app.views.base import scoped_select

            stmt = (scoped_select(Customer).join(Intermediary, Customer.intermediary)
                    .where(Intermediary.status == IntermediaryStatus.FORMER))
            former = db.session.execute(
                select(func.count()).select_from(stmt.subquery())).scalar()
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    former_customers=former)
