/**
 * Schema migrations, applied in order inside one transaction each. Append only: a shipped
 * migration is never edited, so every database converges on the same schema.
 */
import { ROLLUP_DAYS_MIGRATION } from './rollup-days.js';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    credential_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    last_seen TEXT,
    reported TEXT,
    reported_revision INTEGER NOT NULL DEFAULT 0,
    desired TEXT,
    desired_revision INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  -- Tags are also kept one row per pair so selectors are indexed lookups, not JSON scans.
  CREATE TABLE device_tags (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX device_tags_by_pair ON device_tags(key, value);
  CREATE INDEX devices_by_profile ON devices(profile);

  CREATE TABLE modules (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    wasm BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
  ) STRICT;

  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    config TEXT NOT NULL,
    input TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    FOREIGN KEY (module, version) REFERENCES modules(name, version)
  ) STRICT;
  CREATE INDEX deployments_by_created ON deployments(created_at);

  CREATE TABLE deployment_devices (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    module TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'failed', 'superseded')),
    reason TEXT,
    -- The desired revision that first carried this deployment to the device.
    revision INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (deployment_id, device_id)
  ) STRICT;
  CREATE INDEX deployment_devices_by_device ON deployment_devices(device_id, module);

  -- One row per ingested batch: its primary key is what makes ingestion idempotent.
  CREATE TABLE result_batches (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    dropped INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX result_batches_by_received ON result_batches(received_at);

  CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('metric', 'event')),
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    t REAL NOT NULL,
    value REAL NOT NULL
  ) STRICT;
  CREATE INDEX results_by_device_time ON results(device_id, t, seq, id);
  CREATE INDEX results_by_time ON results(t);

  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'read')),
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  `,
  // Access control (issue 4): three roles instead of admin/read ('read' becomes 'viewer'),
  // revocable tokens, and the audit log. SQLite cannot alter a CHECK, so the table is rebuilt.
  `
  CREATE TABLE api_tokens_new (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    revoked_at TEXT,
    last_used_at TEXT
  ) STRICT;
  INSERT INTO api_tokens_new (id, name, role, hash, created_at)
    SELECT id, name, CASE role WHEN 'read' THEN 'viewer' ELSE role END, hash, created_at FROM api_tokens;
  DROP TABLE api_tokens;
  ALTER TABLE api_tokens_new RENAME TO api_tokens;

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    actor_role TEXT,
    action TEXT NOT NULL,
    method TEXT,
    path TEXT,
    target TEXT,
    status INTEGER,
    remote_address TEXT,
    detail TEXT
  ) STRICT;
  CREATE INDEX audit_log_by_at ON audit_log(at);
  CREATE INDEX audit_log_by_actor ON audit_log(actor_id, id);
  CREATE INDEX audit_log_by_action ON audit_log(action, id);
  CREATE INDEX audit_log_by_target ON audit_log(target, id);
  `,
  // Device credential rotation: the previous secret stays valid until it expires or the device
  // first connects with the new one, whichever comes first.
  `
  ALTER TABLE devices ADD COLUMN previous_credential_hash TEXT;
  ALTER TABLE devices ADD COLUMN previous_credential_expires_at TEXT;
  ALTER TABLE devices ADD COLUMN credential_rotated_at TEXT;
  `,
  // Signatures (docs/security.md). A module keeps its publisher's signatures, which the API
  // cannot re-create; the root-signed trusted-keys lists are kept, newest version in force.
  `
  ALTER TABLE modules ADD COLUMN signatures TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE trusted_keys_lists (
    version INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  `,
  // Rollouts (issue 5): a strategy and a life cycle per deployment; per device a wave, the
  // previous entry to roll back to, and the times the health gate measures from.
  `
  ALTER TABLE deployments ADD COLUMN strategy TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE deployments ADD COLUMN status_reason TEXT;
  ALTER TABLE deployments ADD COLUMN waves INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE deployments ADD COLUMN current_wave INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE deployments ADD COLUMN updated_at TEXT;
  UPDATE deployments SET status = 'completed', updated_at = created_at WHERE status = 'active';
  CREATE INDEX deployments_by_status ON deployments(status);

  CREATE TABLE deployment_devices_v2 (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    module TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'pending', 'applied', 'healthy', 'failed', 'unhealthy', 'timed-out', 'rolled-back', 'cancelled', 'superseded')),
    reason TEXT,
    revision INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    wave INTEGER NOT NULL DEFAULT 0,
    -- 1 for a device that matched after the deployment had completed.
    late INTEGER NOT NULL DEFAULT 0,
    -- The device's entry for this module just before this deployment reached it (JSON, or NULL: none).
    previous TEXT,
    published_at INTEGER,
    applied_at INTEGER,
    PRIMARY KEY (deployment_id, device_id)
  ) STRICT;
  INSERT INTO deployment_devices_v2 (deployment_id, device_id, module, state, reason, revision, updated_at, published_at)
    SELECT deployment_id, device_id, module, state, reason, revision, updated_at, CAST(strftime('%s', updated_at) AS INTEGER) * 1000 FROM deployment_devices;
  DROP TABLE deployment_devices;
  ALTER TABLE deployment_devices_v2 RENAME TO deployment_devices;
  CREATE INDEX deployment_devices_by_device ON deployment_devices(device_id, module);
  CREATE INDEX deployment_devices_by_state ON deployment_devices(state);
  `,
  // Runtime limits a deployment requests (issue 3): JSON ModuleLimits, or NULL for none.
  `
  ALTER TABLE deployments ADD COLUMN limits TEXT;
  `,
  // Paginated inventory (issue 16): keyset indexes for each device sort, a faulted flag kept
  // beside the reported state (a JSON scan of 100,000 reported states per page is no filter), and
  // deployments filtered by module.
  `
  ALTER TABLE devices ADD COLUMN faulted INTEGER NOT NULL DEFAULT 0;
  UPDATE devices SET faulted = EXISTS (
    SELECT 1 FROM json_each(devices.reported, '$.modules') m
    WHERE json_extract(m.value, '$.state') = 'failed' OR json_extract(m.value, '$.faults') > 0
  ) WHERE reported IS NOT NULL;
  CREATE INDEX devices_by_created ON devices(created_at, id);
  CREATE INDEX devices_by_last_seen ON devices(coalesce(last_seen, ''), id);
  CREATE INDEX devices_by_faulted ON devices(faulted, id);
  CREATE INDEX deployments_by_module ON deployments(module);
  `,
  // Rollups of metric points beside the raw rows (issue 15, docs/api.md §Fleet-wide analytics):
  // per device, module, metric and minute or hour, written in the ingest transaction. The key
  // leads with module and metric so one device's range is contiguous; the bucket index serves
  // retention. Backfilled from the points already stored. The updated_at index lets the event
  // bus find rollout changes since its last look.
  `
  CREATE TABLE result_rollups_minute (
    module TEXT NOT NULL,
    metric TEXT NOT NULL,
    device_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    last_t REAL NOT NULL,
    last_seq INTEGER NOT NULL,
    last_value REAL NOT NULL,
    PRIMARY KEY (module, metric, device_id, bucket)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX result_rollups_minute_by_bucket ON result_rollups_minute(bucket);
  CREATE TABLE result_rollups_hour (
    module TEXT NOT NULL,
    metric TEXT NOT NULL,
    device_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    last_t REAL NOT NULL,
    last_seq INTEGER NOT NULL,
    last_value REAL NOT NULL,
    PRIMARY KEY (module, metric, device_id, bucket)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX result_rollups_hour_by_bucket ON result_rollups_hour(bucket);
  INSERT INTO result_rollups_minute
    SELECT module, metric, device_id, b, count(*), sum(value), min(value), max(value),
      max(CASE WHEN rn = 1 THEN t END), max(CASE WHEN rn = 1 THEN seq END), max(CASE WHEN rn = 1 THEN value END)
    FROM (SELECT module, metric, device_id, CAST(floor_b AS INTEGER) AS b, t, seq, value,
            ROW_NUMBER() OVER (PARTITION BY module, metric, device_id, floor_b ORDER BY t DESC, seq DESC, id DESC) AS rn
          FROM (SELECT *, (CAST(t / 60000 AS INTEGER) - (t < 0 AND t % 60000 != 0)) * 60000 AS floor_b FROM results WHERE kind = 'metric'))
    GROUP BY module, metric, device_id, b;
  INSERT INTO result_rollups_hour
    SELECT module, metric, device_id, b, count(*), sum(value), min(value), max(value),
      max(CASE WHEN rn = 1 THEN t END), max(CASE WHEN rn = 1 THEN seq END), max(CASE WHEN rn = 1 THEN value END)
    FROM (SELECT module, metric, device_id, CAST(floor_b AS INTEGER) AS b, t, seq, value,
            ROW_NUMBER() OVER (PARTITION BY module, metric, device_id, floor_b ORDER BY t DESC, seq DESC, id DESC) AS rn
          FROM (SELECT *, (CAST(t / 3600000 AS INTEGER) - (t < 0 AND t % 3600000 != 0)) * 3600000 AS floor_b FROM results WHERE kind = 'metric'))
    GROUP BY module, metric, device_id, b;
  CREATE INDEX deployment_devices_by_updated ON deployment_devices(updated_at);
  `,
  // Site hubs (issue 14, docs/federation.md): a hub's credential rotates like a device's; its
  // selector (tags) picks the devices put behind it; `site_revision` only grows, so a HubSite
  // document re-published after a restart is never older than one the hub holds; `status` is the
  // hub's last HubStatus. A device is behind at most one hub; deleting the hub puts it back on
  // the central broker.
  `
  CREATE TABLE hubs (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES hubs(id),
    urls TEXT NOT NULL DEFAULT '[]',
    selector TEXT NOT NULL DEFAULT '{}',
    credential_hash TEXT NOT NULL,
    previous_credential_hash TEXT,
    previous_credential_expires_at TEXT,
    credential_rotated_at TEXT,
    created_at TEXT NOT NULL,
    site_revision INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    status_at TEXT
  ) STRICT;
  CREATE INDEX hubs_by_parent ON hubs(parent_id);
  ALTER TABLE devices ADD COLUMN hub_id TEXT REFERENCES hubs(id) ON DELETE SET NULL;
  CREATE INDEX devices_by_hub ON devices(hub_id, id);
  `,
  // Fleet counts kept by triggers (issue 15's Fleet page at 100,000 devices, docs/api.md §Fleet
  // summary): per profile and per tag pair, how many devices, online, out of sync and faulted. Every
  // write to a device's profile, tags or flags adjusts them in its own transaction, whoever writes
  // (store or plain SQL), so GET /fleet/summary reads a few small rows instead of scanning the
  // inventory. Tags come from devices.tags, the JSON twin of device_tags, so one table's triggers
  // see every change. Each trigger adds a delta with an upsert per row it touches (an indexed
  // write; an UPDATE ... WHERE (key, value) IN (SELECT ... json_each) costs a hundred times more).
  // A pair whose count falls to zero keeps its row (readers skip it): deleting it would cost a
  // scan per device removed.
  `
  CREATE TABLE fleet_counts_profile (
    profile TEXT PRIMARY KEY,
    total INTEGER NOT NULL,
    online INTEGER NOT NULL,
    out_of_sync INTEGER NOT NULL,
    faulted INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE fleet_counts_tag (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    total INTEGER NOT NULL,
    online INTEGER NOT NULL,
    out_of_sync INTEGER NOT NULL,
    faulted INTEGER NOT NULL,
    PRIMARY KEY (key, value)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO fleet_counts_profile
    SELECT profile, count(*), sum(online), sum(reported_revision < desired_revision), sum(faulted) FROM devices GROUP BY profile;
  INSERT INTO fleet_counts_tag
    SELECT t.key, t.value, count(*), sum(d.online), sum(d.reported_revision < d.desired_revision), sum(d.faulted)
    FROM devices d, json_each(d.tags) t GROUP BY t.key, t.value;

  CREATE TRIGGER fleet_counts_insert AFTER INSERT ON devices BEGIN
    INSERT INTO fleet_counts_profile VALUES (new.profile, 1, new.online, new.reported_revision < new.desired_revision, new.faulted)
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
    INSERT INTO fleet_counts_tag SELECT t.key, t.value, 1, new.online, new.reported_revision < new.desired_revision, new.faulted
      FROM json_each(new.tags) t WHERE true
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
  END;

  CREATE TRIGGER fleet_counts_delete AFTER DELETE ON devices BEGIN
    INSERT INTO fleet_counts_profile VALUES (old.profile, -1, -old.online, -(old.reported_revision < old.desired_revision), -old.faulted)
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
    INSERT INTO fleet_counts_tag SELECT t.key, t.value, -1, -old.online, -(old.reported_revision < old.desired_revision), -old.faulted
      FROM json_each(old.tags) t WHERE true
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
  END;

  -- The common case (presence, revisions, faults) moves flags only: one delta per row it counts in.
  CREATE TRIGGER fleet_counts_flags AFTER UPDATE OF online, reported_revision, desired_revision, faulted ON devices
  WHEN old.profile IS new.profile AND old.tags IS new.tags AND (old.online IS NOT new.online OR old.faulted IS NOT new.faulted
    OR (old.reported_revision < old.desired_revision) IS NOT (new.reported_revision < new.desired_revision))
  BEGIN
    UPDATE fleet_counts_profile SET online = online + new.online - old.online,
      out_of_sync = out_of_sync + (new.reported_revision < new.desired_revision) - (old.reported_revision < old.desired_revision),
      faulted = faulted + new.faulted - old.faulted
      WHERE profile = new.profile;
    INSERT INTO fleet_counts_tag SELECT t.key, t.value, 0, new.online - old.online,
        (new.reported_revision < new.desired_revision) - (old.reported_revision < old.desired_revision), new.faulted - old.faulted
      FROM json_each(new.tags) t WHERE true
      ON CONFLICT DO UPDATE SET online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
  END;

  -- A new profile or new tags: count the device out of its old rows and into its new ones.
  CREATE TRIGGER fleet_counts_regroup AFTER UPDATE OF profile, tags, online, reported_revision, desired_revision, faulted ON devices
  WHEN old.profile IS NOT new.profile OR old.tags IS NOT new.tags
  BEGIN
    INSERT INTO fleet_counts_profile VALUES (old.profile, -1, -old.online, -(old.reported_revision < old.desired_revision), -old.faulted)
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
    INSERT INTO fleet_counts_tag SELECT t.key, t.value, -1, -old.online, -(old.reported_revision < old.desired_revision), -old.faulted
      FROM json_each(old.tags) t WHERE true
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
    INSERT INTO fleet_counts_profile VALUES (new.profile, 1, new.online, new.reported_revision < new.desired_revision, new.faulted)
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
    INSERT INTO fleet_counts_tag SELECT t.key, t.value, 1, new.online, new.reported_revision < new.desired_revision, new.faulted
      FROM json_each(new.tags) t WHERE true
      ON CONFLICT DO UPDATE SET total = total + excluded.total, online = online + excluded.online,
        out_of_sync = out_of_sync + excluded.out_of_sync, faulted = faulted + excluded.faulted;
  END;
  `,
  // Quarantine as its own flag (issue 15, [WF-P-T-3b]): set by setReported beside `faulted`, so the
  // Fleet page counts and filters devices with a module the agent stopped restarting.
  `
  ALTER TABLE devices ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
  UPDATE devices SET quarantined = EXISTS (
    SELECT 1 FROM json_each(devices.reported, '$.modules') m WHERE json_extract(m.value, '$.quarantined') = 1
  ) WHERE reported IS NOT NULL;
  CREATE INDEX devices_by_quarantined ON devices(quarantined, id);
  `,
  // Hour rollups' count and sum one row per device and day (issue 15's 30-day aggregate bench):
  // rollup-days.ts says why and keeps it.
  ROLLUP_DAYS_MIGRATION,
  // A deployment's rows counted by state (every deployment view, GET /deployments, a client polling
  // a rollout) from this index alone: through the primary key each count looked up every row, 2.7 ms
  // for a 10,000-device deployment against 0.6 ms; a row's state change costs about 0.6 us more.
  `
  CREATE INDEX deployment_devices_by_deployment_state ON deployment_devices(deployment_id, state);
  `,
];
