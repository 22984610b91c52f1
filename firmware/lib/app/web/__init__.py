"""The web UI and JSON API: server.py (connections; all that stays loaded), http.py (requests,
and the polls: the dashboard's with api.py (live data) and history.py (power), the status page's
with status.py (/api/status)), pages.py (the pages and their files), routes.py (every other
answer: captive portal, safe mode, the config page's login), refusals.py (the words of a refused
request), admin.py (the admin API), auth.py (admin password, sessions, CSRF), settings.py (the
configuration form and API)."""
