"""The Customer Center in a browser: sessions in cookies, CSRF, the site's theme and language, and
the pages (login, set and forgot password, the Center and its sections, the order form)."""
