"""Scheduled posts: recurrence in the guild's time zone, the store, and the dispatcher
that posts each occurrence exactly once."""
