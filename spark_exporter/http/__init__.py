"""The one HTTP layer shared by the exporter and the JSON API: web config (TLS, auth, headers), errors, serving."""
