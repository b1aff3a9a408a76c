-- Every place the inventory has seen a drive in: a host, a device name and an enclosure bay,
-- from the first poll that found it there to the last. The drive's own row follows it (one row
-- per serial and WWN, updated in place), so without this a move between bays or hosts was
-- overwritten. `inventory::store::apply_report` extends the newest place while the drive stays
-- put and opens a new one when any of the three changes or the drive returns from absent; rows
-- are never edited otherwise.
CREATE TABLE drive_places (
    id            INTEGER PRIMARY KEY,
    drive_id      INTEGER NOT NULL REFERENCES drives (id) ON DELETE CASCADE,
    host_id       INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    devname       TEXT    NOT NULL,
    -- The enclosure bay as TrueNAS reports it; NULL where the host reports none.
    slot          INTEGER,
    first_seen_at TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL
);

CREATE INDEX drive_places_drive ON drive_places (drive_id, id);

-- What was known before: each drive's place now, since its row was first made.
INSERT INTO drive_places (drive_id, host_id, devname, slot, first_seen_at, last_seen_at)
SELECT id, host_id, devname, slot, first_seen_at, last_seen_at FROM drives ORDER BY id;
