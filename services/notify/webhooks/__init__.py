"""Outgoing webhooks: every event of a site, signed, to the site's endpoints that subscribed to it."""
