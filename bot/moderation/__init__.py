"""Moderation: automod rules, their configuration, and the guard on generated text.

``normalize`` undoes filter evasions, ``rules`` holds the content rules, ``toxicity`` the
classifier, ``config`` each guild's rule settings, and ``automod`` puts them together.
"""
