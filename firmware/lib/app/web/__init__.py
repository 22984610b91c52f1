"""The web UI and JSON API: server.py (connections; all that stays loaded), http.py (requests,
routes, pages), api.py (live data, status), auth.py (admin password, sessions, CSRF),
settings.py (the configuration form and API), portal.py (captive portal)."""
