"""Privacy: consent to archiving and training, and the data statement
(``bot.features.privacy`` has the commands and the retention job)."""
