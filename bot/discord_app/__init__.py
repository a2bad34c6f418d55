"""The Discord adapter: discord.py objects in, chat-domain calls out. Named so it never
shadows the ``discord`` package."""
