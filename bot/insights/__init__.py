"""Understanding members: per-message sentiment, intent and products, profiles, the
complaint follow-up list, and the charts moderators read (``bot.features.insights``)."""
