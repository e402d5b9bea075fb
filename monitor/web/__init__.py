"""The web view: server-rendered pages, a read-only JSON API and an Atom feed of alerts.

A thin shell over the store's typed rows (Starlette + Jinja2, served by uvicorn):
:mod:`~monitor.web.access` decides who may connect (loopback by default, a token
otherwise) and guards the state-changing forms against CSRF; :mod:`~monitor.web.routes`
holds the pages and the API; :mod:`~monitor.web.app` puts them together and serves them,
from `monitor web` or from the daemon's event loop (``[web] enabled = true``). Every
request reads through its own read-only SQLite connection (WAL lets the daemon write
meanwhile). See docs/web.md.
"""

from __future__ import annotations

from monitor.web.access import WebSettings, web_settings
from monitor.web.app import create_app, serve

__all__ = ["WebSettings", "create_app", "serve", "web_settings"]
