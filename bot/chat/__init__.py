"""Chat: when and how the bot answers members. Plain async Python, no Discord imports."""
