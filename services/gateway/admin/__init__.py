"""The admin console (``/admin``): staff of a site manage it in a browser. See README.md here."""
