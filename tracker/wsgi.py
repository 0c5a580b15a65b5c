"""The WSGI entry point for gunicorn: ``gunicorn tracker.wsgi:app``."""

import gc

from tracker import create_app
from tracker.templating import compile_templates

app = create_app()
# Before any request (and, with gunicorn's --preload, before the workers fork).
compile_templates(app)
# Everything made so far (modules, the app, its compiled templates: 150,000 objects) lives as
# long as the process. Frozen, the cyclic collector no longer walks it: a full collection in a
# worker took 130 ms in the middle of someone's request, now it scans only what requests
# left behind; and forked workers keep sharing those pages rather than copying them as the
# collector touches them.
gc.freeze()
