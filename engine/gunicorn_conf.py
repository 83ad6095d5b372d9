"""gunicorn settings for ``onscreen serve`` (``make run``) and production.

Threaded workers: each request is short and mostly waits on the database, and threads share
one connection pool per process. Override with ONSCREEN_BIND, ONSCREEN_WORKERS and
ONSCREEN_THREADS; docs/deployment.md has the production advice.
"""
import os

bind = os.environ.get("ONSCREEN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ONSCREEN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("ONSCREEN_THREADS", "8"))
# Answers must not be cut off mid-request by a slow disk; a stuck worker is still replaced.
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-" if os.environ.get("ONSCREEN_ACCESS_LOG") else None
errorlog = "-"
wsgi_app = "engine.wsgi:app"
