-- Where a drive's temperature came from: 'api' (the NAS's own sensor reading, disk.temperatures)
-- or 'smart' (smartctl over SSH). SCALE 25.10+ reads hwmon and reports no temperature for SAS
-- drives; for those the dashboard shows what smartctl last said, and an API that has nothing
-- does not erase a fresh SMART reading.
ALTER TABLE drives ADD COLUMN temperature_source TEXT;
