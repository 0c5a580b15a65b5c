"""The WSGI entry point for gunicorn: ``gunicorn tracker.wsgi:app``."""

from tracker import create_app
from tracker.templating import compile_templates

app = create_app()
# Before any request (and, with gunicorn's --preload, before the workers fork).
compile_templates(app)
