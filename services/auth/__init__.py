"""Auth: logins, password hashes, set-password tokens, sessions, signing keys."""
