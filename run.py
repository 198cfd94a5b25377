"""WSGI entry point: `flask --app run.py ...`, gunicorn `run:app`."""
from app import create_app

app = create_app()
