"""The web UI and JSON API: server.py (connections; all that stays loaded), http.py (requests,
the dashboard's polls) with api.py (their JSON: live data, history), routes.py (every other
answer: pages, captive portal, safe mode), status.py (/api/status), admin.py (the admin API),
auth.py (admin password, sessions, CSRF), settings.py (the configuration form and API)."""
