"""Upgrade samples for tests/bot/test_migrations.py, one entry per migration."""

# Rows written at version N with the tables of version N, and a query that must still find
# them after upgrading to the latest version. A new migration needs an entry here: that is
# what proves upgrading a live database keeps its data.
SAMPLES = {
    1: (
        [
            "INSERT INTO members VALUES (1, 42, 'Ana', 1000, 2000, 0)",
            "INSERT INTO products (id, guild_id, sku, name, price_cents, created_at, updated_at) "
            "VALUES (7, 1, 'SOCK-1', 'Wool socks', 1250, 1000, 1000)",
            "INSERT INTO faq (guild_id, question, answer, created_at, updated_at) "
            "VALUES (1, ' Do you ship to Norway? ', 'Yes, in a week.', 1000, 1000)",
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'size', 'M', 1000, 1000)",
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, content, created_at) "
            "VALUES (900, 1, 5, 42, 'do you ship to Norway?', 1500)",
            # A direct message: version 1 stored its guild as NULL.
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, author_name, "
            "content, created_at) VALUES (901, NULL, 6, 43, 'Bo', 'is my order late?', 1600)",
        ],
        [
            ("SELECT display_name FROM members WHERE guild_id = 1 AND user_id = 42", ("Ana",)),
            ("SELECT value FROM member_facts WHERE user_id = 42", ("M",)),
            ("SELECT content FROM messages WHERE message_id = 900", ("do you ship to Norway?",)),
            ("SELECT guild_id, content FROM messages WHERE message_id = 901", (0, "is my order late?")),
            ("SELECT display_name FROM members WHERE guild_id = 0 AND user_id = 43", ("Bo",)),
            # Version 4 moves products and faq into the knowledge base.
            ("SELECT e.key, e.title, e.price, e.price_cents FROM kb_fts JOIN kb_entries e "
             "ON e.id = kb_fts.rowid WHERE kb_fts MATCH 'wool'", ("SOCK-1", "Wool socks", "12.50", 1250)),
            ("SELECT kind, key, body FROM kb_entries WHERE title LIKE '%Norway%'",
             ("faq", "do you ship to norway", "Yes, in a week.")),
        ],
    ),
    2: (
        [
            "INSERT INTO members VALUES (0, 44, 'Cy', 3000, 3000, 1)",
            # Kinds are no longer listed in the schema.
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (0, 44, 'allergy', 'wool', 3000, 3000)",
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, content, created_at) "
            "VALUES (950, 0, 6, 44, 'thanks!', 3000)",
            # The bot's two-part answer: version 3 links both parts to the member answered.
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, is_bot, reply_to_id, "
            "content, created_at) VALUES (951, 0, 6, 2, 1, 950, 'part one', 3001)",
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, is_bot, reply_to_id, "
            "content, created_at) VALUES (952, 0, 6, 2, 1, 951, 'part two', 3002)",
        ],
        [
            ("SELECT group_concat(message_id) FROM messages WHERE answered_user_id = 44", ("951,952",)),
            ("SELECT kind, value FROM member_facts WHERE user_id = 44", ("allergy", "wool")),
            ("SELECT opted_out_training FROM members WHERE guild_id = 0 AND user_id = 44", (1,)),
            ("SELECT guild_id FROM messages WHERE message_id = 950", (0,)),
        ],
    ),
    3: (
        [
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, is_bot, "
            "answered_user_id, content, created_at) VALUES (960, 1, 5, 2, 1, 42, 'a note', 4000)",
        ],
        [
            ("SELECT answered_user_id FROM messages WHERE message_id = 960", (42,)),
            ("SELECT count(*) FROM messages WHERE answered_user_id IS NULL AND is_bot = 0", (3,)),
        ],
    ),
    4: (
        [
            "INSERT INTO kb_entries (guild_id, kind, key, title, body, created_at, updated_at) "
            "VALUES (1, 'faq', 'returns', 'Returns?', 'Within 30 days.', 5000, 5000)",
        ],
        [
            ("SELECT e.key FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid "
             "WHERE kb_fts MATCH 'return'", ("returns",)),
        ],
    ),
    5: (
        [
            "INSERT INTO kb_entries (guild_id, kind, key, title, body, grams, created_at, updated_at) "
            "VALUES (1, 'faq', '运费', '运费', '满99元包邮', '运费 满9 99 9元 元包 包邮', 6000, 6000)",
            "INSERT INTO guild_settings (guild_id, staff_role_id, staff_ping, updated_at) "
            "VALUES (1, 77, 1, 6000)",
        ],
        [
            ("SELECT e.key FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid "
             "WHERE kb_fts MATCH '\"包邮\"'", ("运费",)),
            ("SELECT staff_role_id, staff_ping, staff_channel_id FROM guild_settings "
             "WHERE guild_id = 1", (77, 1, None)),
            # Rows imported at version 4 are in the rebuilt index.
            ("SELECT e.key FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid "
             "WHERE kb_fts MATCH 'within'", ("returns",)),
        ],
    ),
    6: (
        [
            "INSERT INTO product_drafts (guild_id, sku, text, author_id, created_at) "
            "VALUES (1, 'SOCK-1', 'Soft wool socks for cold mornings.', 42, 7000)",
        ],
        [
            ("SELECT sku, status, author_id, decided_by, decided_at FROM product_drafts "
             "WHERE guild_id = 1", ("SOCK-1", "pending", 42, None, None)),
        ],
    ),
    7: (
        [
            "INSERT INTO automod_rules VALUES (1, 'caps', '{\"enabled\": false}', 42, 8000)",
        ],
        [
            ("SELECT rule, json_extract(settings, '$.enabled'), updated_by FROM automod_rules "
             "WHERE guild_id = 1", ("caps", 0, 42)),
        ],
    ),
    8: (
        [
            "INSERT INTO mod_cases (guild_id, number, action, user_id, actor_id, reason, "
            "created_at) VALUES (1, 1, 'warn', 42, 7, 'spam', 9000)",
            "INSERT INTO mod_case_notes (case_id, author_id, text, created_at) "
            "SELECT id, 7, 'second time', 9001 FROM mod_cases",
        ],
        [
            ("SELECT c.number, c.attachments, n.text FROM mod_cases c JOIN mod_case_notes n "
             "ON n.case_id = c.id WHERE c.user_id = 42", (1, "[]", "second time")),
        ],
    ),
    9: (
        [
            "INSERT INTO mod_reports (guild_id, number, source, channel_id, message_id, "
            "author_id, reason, content, created_at) VALUES (1, 1, 'member', 5, 960, 42, "
            "'reported by a member', 'buy followers', 9500)",
            "INSERT INTO mod_report_reporters SELECT id, 43, 9501 FROM mod_reports",
        ],
        [
            ("SELECT r.status, r.deleted, p.user_id FROM mod_reports r JOIN mod_report_reporters p "
             "ON p.report_id = r.id WHERE r.author_id = 42", ("open", 0, 43)),
        ],
    ),
    10: (
        [
            "INSERT INTO scheduled_posts (guild_id, number, channel_id, text, first_at, due_at, "
            "tz, created_by, created_at, updated_at) VALUES (1, 1, 5, 'Sale!', 9600, 9600, "
            "'UTC', 7, 9600, 9600)",
            "INSERT INTO announcement_drafts (guild_id, channel_id, brief, kind, tone, text, "
            "post_id, author_id, created_at, updated_at) SELECT 1, 5, 'sale', 'sale', 'calm', "
            "'Sale!', id, 7, 9601, 9601 FROM scheduled_posts",
            "UPDATE guild_settings SET timezone = 'Europe/Berlin' WHERE guild_id = 1",
        ],
        [
            ("SELECT p.state, d.status, p.sent_count FROM scheduled_posts p JOIN "
             "announcement_drafts d ON d.post_id = p.id", ("scheduled", "draft", 0)),
        ],
    ),
    11: (
        [
            "INSERT INTO topic_schedules VALUES (1, 5, 0, 600, 9700, 7, 9700)",
        ],
        [
            ("SELECT weekday, minute_of_day, updated_by FROM topic_schedules", (0, 600, 7)),
        ],
    ),
    12: (
        [
            # Message 900 is version 1's sample.
            "INSERT INTO message_labels VALUES (900, 1, 42, 1500, 'neutral', 0.1, 'question', 9900)",
            "INSERT INTO followups (guild_id, number, message_id, channel_id, user_id, user_name, "
            "content, created_at) VALUES (1, 1, 990, 5, 42, 'Ana', 'my parcel never arrived', 9800)",
            "INSERT INTO insight_digests VALUES (1, 9000, 9950)",
        ],
        [
            ("SELECT sentiment, intent FROM message_labels WHERE message_id = 900",
             ("neutral", "question")),
            ("SELECT number, resolved_at FROM followups WHERE message_id = 990", (1, None)),
            ("SELECT posted_at FROM insight_digests WHERE guild_id = 1", (9950,)),
        ],
    ),
    13: (
        [
            "UPDATE guild_settings SET archive_consent = 'opt-in', retention_days = 30",
            "INSERT INTO member_consent VALUES (1, 42, 'out', 'out', 9990, 9990)",
        ],
        [
            ("SELECT storage, training FROM member_consent WHERE user_id = 42", ("out", "out")),
        ],
    ),
    14: (
        [
            "INSERT INTO model_choice VALUES (1, 'data/models/tuned', 9995, 1.25, 1.20)",
        ],
        [
            ("SELECT path, candidate_bpb FROM model_choice", ("data/models/tuned", 1.2)),
        ],
    ),
    15: (
        [],
        [
            ("SELECT count(*) FROM sqlite_master WHERE name = 'messages_reply'", (1,)),
        ],
    ),
}
