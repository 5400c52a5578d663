"""Notifications that leave the app: destinations, delivery, and signed action links."""
