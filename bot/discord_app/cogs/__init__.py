"""One cog per feature; each is a thin mapping from Discord events to domain calls."""
