"""SQL views of the consensus log, for people reading it (Datasette, `sqlite3`):
what each signed message says, as rows. Created by the log's fourth migration;
the audit never reads them (it recomputes from the raw messages)."""

__all__ = ["VIEWS", "create_views"]

VIEWS = {
    "round_winners": """
        SELECT r.round_id, r.coordinator, datetime(r.created, 'unixepoch') AS started,
               r.status, r.winner,
               json_extract(m.raw, '$.payload.winner.candidate') AS winner_candidate,
               json_extract(m.raw, '$.payload.winner.verification') AS verification,
               json_extract(m.raw, '$.payload.decided_by') AS decided_by,
               json_extract(m.raw, '$.payload.topic_source') AS topic_source,
               json_extract(m.raw, '$.payload.topic') AS topic,
               json_array_length(json_extract(m.raw, '$.payload.candidates')) AS candidates,
               json_array_length(json_extract(m.raw, '$.payload.judges')) AS judges,
               m.message_digest AS result_digest
        FROM rounds r
        LEFT JOIN messages m ON m.round_id = r.round_id AND m.type = 'result'
            AND m.sender = r.coordinator""",
    "candidates": """
        SELECT m.round_id, json_extract(c.value, '$.candidate') AS candidate,
               json_extract(c.value, '$.node') AS node,
               json_array_length(json_extract(c.value, '$.nodes')) AS authors,
               json_extract(c.value, '$.score') AS score,
               json_extract(c.value, '$.stderr') AS stderr,
               json_extract(c.value, '$.candidate')
                   = json_extract(m.raw, '$.payload.winner.candidate') AS won,
               json_extract(c.value, '$.digest') AS text_digest
        FROM messages m, json_each(json_extract(m.raw, '$.payload.candidates')) c
        WHERE m.type = 'result'""",
    "verdicts": """
        SELECT m.round_id, m.sender AS judge, m.seq,
               datetime(m.timestamp, 'unixepoch') AS time,
               json_extract(v.value, '$.task') AS task,
               json_extract(v.value, '$.first_digest') AS first_digest,
               json_extract(v.value, '$.second_digest') AS second_digest,
               json_extract(v.value, '$.p_first') AS p_first,
               json_extract(v.value, '$.mass') AS mass
        FROM messages m, json_each(json_extract(m.raw, '$.payload.verdicts')) v
        WHERE m.type = 'verdict'""",
    "node_history": """
        SELECT m.sender AS node, m.seq, datetime(m.timestamp, 'unixepoch') AS time,
               m.type, m.round_id, m.message_digest
        FROM messages m""",
}


def create_views(db: object) -> None:
    """The views, in a `sqlite_utils.Database` (run inside a migration)."""
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)  # type: ignore[attr-defined]
