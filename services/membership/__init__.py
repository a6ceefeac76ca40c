"""Membership: sites, programs, levels, contacts, grants."""
