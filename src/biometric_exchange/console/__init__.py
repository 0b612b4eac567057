"""The operator console (``bx console``): a small web application for reviewing alerts
and step-2 requests, served by uvicorn on loopback (or over TLS).

It reads and writes through the same code as ``bx alerts`` and ``bx requests``
(``alerts.review``, ``node.serve.details``); officers sign in with accounts
kept in the node database (``bx officers``). Modules: ``context`` (what the
pages share), ``officers`` and ``sessions`` (accounts, sign-in, CSRF),
``guard`` (every page and action behind a session), the pages (``queue``,
``alert_page``, ``requests_page``, ``node_page``), ``events`` (live updates),
``faces``, ``reports``, ``notify`` and ``webhook`` (notifications), ``app``
(routes) and ``server`` (uvicorn, loopback or TLS). Needs the ``console`` extra.
"""
