"""The console adapter (``python -m bot console``): a simulated community on stdin/stdout."""

from bot.console.app import HELP, Console, run_console
from bot.console.world import BOT_ID, BOT_NAME, CHANNELS, DM, GUILD_ID, ROLES, member_id

__all__ = ["BOT_ID", "BOT_NAME", "CHANNELS", "DM", "GUILD_ID", "HELP", "ROLES", "Console",
           "member_id", "run_console"]
