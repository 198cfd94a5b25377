"""The start page."""
from flask_appbuilder import IndexView


class PoolIndexView(IndexView):
    index_template = "pool_index.html"
