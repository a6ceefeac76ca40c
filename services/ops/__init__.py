"""What the operator CLI (``python -m services.cli``) does beyond migrating and seeding: admin API
keys, JWT signing keys, dead letters, and calls to the admin API through the gateway."""
