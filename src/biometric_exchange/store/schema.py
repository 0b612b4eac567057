"""The node database schema, applied in numbered migrations."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE encounters (
        encounter_id TEXT PRIMARY KEY,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        sex TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        nationality TEXT NOT NULL,
        document_number TEXT NOT NULL,
        encountered_at TEXT NOT NULL,
        border_point TEXT NOT NULL,
        template_sealed BLOB NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        generator TEXT NOT NULL,
        seed INTEGER,
        enrolled_at TEXT NOT NULL
    );
    CREATE TABLE watchlist (
        entry_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        sex TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        nationality TEXT NOT NULL,
        document_number TEXT NOT NULL,
        valid_until TEXT,
        template_sealed BLOB NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        generator TEXT NOT NULL,
        seed INTEGER,
        added_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        encounter_id TEXT PRIMARY KEY REFERENCES encounters (encounter_id),
        probe_ref TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        last_error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at_ms);
    CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        summary TEXT NOT NULL,
        partner TEXT,
        encounter_id TEXT,
        watchlist_entry_id TEXT,
        hit_reference TEXT,
        category TEXT,
        distance REAL,
        dedup_key TEXT NOT NULL UNIQUE
    );
    CREATE TABLE hit_references (
        reference TEXT PRIMARY KEY,
        entry_id TEXT NOT NULL REFERENCES watchlist (entry_id),
        partner TEXT NOT NULL,
        probe_ref TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (partner, probe_ref, entry_id)
    );
    CREATE TABLE seen_messages (
        sender TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (sender, message_id)
    );
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        peer TEXT,
        message_id TEXT,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL UNIQUE
    );
    """,
    """
    ALTER TABLE encounters ADD COLUMN legal_status TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE encounters ADD COLUMN unaccompanied_minor INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE watchlist ADD COLUMN legal_status TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE watchlist ADD COLUMN unaccompanied_minor INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE quota_usage (
        day TEXT NOT NULL,
        party TEXT NOT NULL,
        kind TEXT NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (day, party, kind)
    );
    ALTER TABLE hit_references ADD COLUMN expires_at TEXT;
    """,
    """
    CREATE TABLE details_received (
        partner TEXT NOT NULL,
        request_id TEXT NOT NULL,
        hit_reference TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        justification TEXT NOT NULL,
        officer_id TEXT NOT NULL,
        fields TEXT NOT NULL,
        status TEXT NOT NULL,
        received_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        decided_at TEXT,
        decided_by TEXT,
        reason TEXT,
        comment TEXT,
        PRIMARY KEY (partner, request_id)
    );
    CREATE INDEX details_received_queue ON details_received (status, due_at);
    CREATE TABLE details_sent (
        request_id TEXT PRIMARY KEY,
        partner TEXT NOT NULL,
        hit_reference TEXT NOT NULL,
        purpose TEXT NOT NULL,
        justification TEXT NOT NULL,
        officer_id TEXT NOT NULL,
        fields TEXT NOT NULL,
        status TEXT NOT NULL,
        disclosed TEXT NOT NULL DEFAULT '{}',
        reason TEXT,
        sent_at TEXT NOT NULL,
        due_at TEXT,
        decided_at TEXT,
        updated_at TEXT NOT NULL,
        last_error TEXT
    );
    CREATE INDEX details_sent_status ON details_sent (status);
    """,
    """
    CREATE TABLE alerts_v2 (
        alert_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        queue TEXT NOT NULL DEFAULT 'enforcement',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        summary TEXT NOT NULL,
        partner TEXT,
        encounter_id TEXT,
        watchlist_entry_id TEXT,
        hit_reference TEXT,
        category TEXT,
        distance REAL,
        subject_key TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '[]',
        acknowledged_by TEXT,
        due_at TEXT
    );
    INSERT INTO alerts_v2 (alert_id, kind, severity, status, created_at, updated_at, summary,
        partner, encounter_id, watchlist_entry_id, hit_reference, category, distance,
        subject_key)
        SELECT alert_id, kind, severity, status, created_at, created_at, summary, partner,
        encounter_id, watchlist_entry_id, hit_reference, category, distance, dedup_key
        FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v2 RENAME TO alerts;
    CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject_key) WHERE status != 'CLOSED';
    CREATE INDEX alerts_by_status ON alerts (status, severity);
    CREATE TABLE alert_transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        operator TEXT NOT NULL,
        at TEXT NOT NULL,
        reason_code TEXT,
        comment TEXT
    );
    CREATE INDEX alert_transitions_by_alert ON alert_transitions (alert_id, seq);
    CREATE TABLE partner_counts (
        party TEXT NOT NULL,
        day TEXT NOT NULL,
        nationality TEXT NOT NULL,
        border_point TEXT NOT NULL,
        count INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (party, day, nationality, border_point)
    );
    """,
    """
    CREATE TABLE outbox_v2 (
        encounter_id TEXT NOT NULL REFERENCES encounters (encounter_id),
        partner TEXT NOT NULL,
        probe_ref TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (encounter_id, partner)
    );
    INSERT INTO outbox_v2 (encounter_id, partner, probe_ref, state, attempts,
        next_attempt_at_ms, last_error, updated_at)
        SELECT encounter_id, '', probe_ref, state, attempts, next_attempt_at_ms, last_error,
        updated_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at_ms);
    """,
    """
    CREATE INDEX seen_messages_age ON seen_messages (created_at_ms);
    """,
    """
    CREATE TABLE scope_openings (
        probe_ref TEXT PRIMARY KEY,
        partner TEXT NOT NULL,
        facts TEXT NOT NULL,
        salt BLOB NOT NULL,
        commitment BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    ALTER TABLE hit_references ADD COLUMN sighted_at TEXT;
    ALTER TABLE hit_references ADD COLUMN probe_digest TEXT;
    """,
    """
    CREATE TABLE extraction_hits (
        partner TEXT NOT NULL,
        day TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        hits INTEGER NOT NULL,
        PRIMARY KEY (partner, day, entry_id)
    );
    CREATE TABLE extraction_strikes (
        partner TEXT NOT NULL,
        day TEXT NOT NULL,
        strikes INTEGER NOT NULL,
        held INTEGER NOT NULL CHECK (held IN (0, 1)),
        PRIMARY KEY (partner, day)
    );
    """,
    """
    ALTER TABLE details_received ADD COLUMN delivered_at TEXT;
    """,
    """
    CREATE TABLE unauthenticated_refusals (
        peer TEXT NOT NULL,
        event TEXT NOT NULL,
        reason TEXT NOT NULL,
        hour TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (peer, event, reason, hour)
    );
    """,
    """
    CREATE INDEX outbox_due_by_partner ON outbox (state, partner, next_attempt_at_ms);
    """,
    # Personal fields sealed at rest: the existing columns take sealed blobs in
    # place (store.personal), the document number's keyed hash goes beside them.
    # A row without a hash still holds its fields in clear: the first open with
    # the node's keys seals it.
    """
    ALTER TABLE encounters ADD COLUMN document_hash TEXT;
    ALTER TABLE watchlist ADD COLUMN document_hash TEXT;
    CREATE INDEX encounters_by_document ON encounters (document_hash);
    CREATE INDEX watchlist_by_document ON watchlist (document_hash);
    """,
    # Calls audited once per hour and counted (store.call_counts): Ping.
    """
    CREATE TABLE counted_calls (
        peer TEXT NOT NULL,
        event TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        hour TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (peer, event, outcome, reason, hour)
    );
    """,
    # Alert evidence as rows of its own (store.evidence), capped per alert with a
    # summary of the rest; face groups for identity conflicts (store.face_groups).
    """
    CREATE TABLE alert_evidence (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
        key TEXT NOT NULL,
        item TEXT NOT NULL,
        hit_reference TEXT,
        occurrences INTEGER NOT NULL DEFAULT 1,
        last_occurrence TEXT,
        UNIQUE (alert_id, key)
    );
    CREATE INDEX alert_evidence_in_order ON alert_evidence (alert_id, seq);
    INSERT OR IGNORE INTO alert_evidence (alert_id, key, item, hit_reference)
        SELECT a.alert_id, COALESCE(CAST(json_extract(j.value, '$.key') AS TEXT), ''), j.value,
        CAST(json_extract(j.value, '$.hit_reference') AS TEXT)
        FROM alerts AS a, json_each(a.evidence) AS j
        ORDER BY a.created_at, a.alert_id, j.key;
    ALTER TABLE alerts ADD COLUMN evidence_count INTEGER NOT NULL DEFAULT 0;
    UPDATE alerts SET evidence_count =
        (SELECT count(*) FROM alert_evidence AS e WHERE e.alert_id = alerts.alert_id);
    ALTER TABLE alerts DROP COLUMN evidence;
    CREATE TABLE alert_evidence_overflow (
        alert_id TEXT PRIMARY KEY REFERENCES alerts (alert_id),
        items INTEGER NOT NULL,
        by_rule TEXT NOT NULL,
        by_field TEXT NOT NULL,
        recent TEXT NOT NULL
    );
    CREATE INDEX alerts_by_partner ON alerts (partner, kind);
    CREATE TABLE face_groups (
        encounter_id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        identity TEXT NOT NULL
    );
    """,
    # The operator console: officers who sign in, their sessions, alert
    # assignments and the notifications outbox (webhook deliveries).
    """
    CREATE TABLE officers (
        officer_id TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL,
        queues TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        officer_id TEXT NOT NULL REFERENCES officers (officer_id),
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE INDEX console_sessions_by_officer ON console_sessions (officer_id);
    CREATE TABLE alert_assignments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
        officer_id TEXT,
        assigned_by TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX alert_assignments_by_alert ON alert_assignments (alert_id, seq);
    CREATE TABLE notifications (
        notification_id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        UNIQUE (alert_id, reason)
    );
    CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
    """,
)
