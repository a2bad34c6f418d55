"""Announcements: drafts the model writes from a moderator's brief, checked against it."""
