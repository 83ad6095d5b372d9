"""The WSGI entry point for gunicorn: ``gunicorn -c engine/gunicorn_conf.py``."""
from engine import create_app

app = create_app()
