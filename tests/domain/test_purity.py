"""app/domain must stay pure: no Flask, no SQLAlchemy, no FAB."""
import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "app" / "domain"
FORBIDDEN = ("flask", "sqlalchemy", "flask_appbuilder", "flask_babel", "werkzeug", "app.models",
             "app.services", "app.views")


def test_the_domain_package_imports_no_framework():
    offenders = []
    for path in DOMAIN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN
                          or any(n.startswith(f) for f in FORBIDDEN)]
    assert offenders == []
    assert len(list(DOMAIN.rglob("*.py"))) >= 3
