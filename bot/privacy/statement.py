"""The data statement members read with ``/privacy statement``; README.md, "Data
statement", is the long form and says the same."""

STATEMENT = """**What this bot keeps about you, and why**
- **Your messages** in channels it can read (text, time, channel, reply links): so it answers in the context of the conversation, and so moderators can see what members need and how they feel. Not kept if you opt out, or if this server turned archiving off.
- **Facts you tell it** ("I'm a size M"): to answer you personally.
- **Labels of your messages** (positive, neutral or negative; question, complaint, praise, purchase, other) and the products they name, and **complaints** waiting for the team: for the team's follow-ups and charts.
- **Moderation cases** where you are the subject, and reports you made: safety records.
- **Consent**: whether you opted out or in, and when you were told about this.

**Where**: in one SQLite file on the machine that runs the bot. Nothing is sent to an outside AI service: the language model runs inside the bot.
**How long**: until you or a moderator deletes it, or for the server's retention period, after which messages are deleted daily (see below).
**Your rights**: /privacy export (a JSON file of all of it), /privacy delete (erase it), /privacy facts and /privacy forget, /privacy opt-out (store nothing more, and erase what is stored), /privacy opt-in. A deletion keeps only moderation cases, with their evidence (message text and file names) removed.
**Training**: your messages train the bot's model only if this server allows it and, where it asks, you opted in (/privacy opt-in training:yes)."""
