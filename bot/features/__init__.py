"""The bot's features, one module each, loaded in the order of the ``FEATURES`` setting
(default ``bot.config.DEFAULT_FEATURES``).

Each module has ``setup(services) -> Feature`` (see ``bot.core.feature``) and imports no
discord: the Discord and console adapters render what it declares.
"""
