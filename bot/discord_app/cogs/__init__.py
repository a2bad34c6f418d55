"""Cogs for what is not a declared command: the gateway's message events."""
