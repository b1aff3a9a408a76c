-- The terminal per host: the admin's choice (NULL: not made, so by the API key's roles), and
-- the API key's roles as auth.me answered them (JSON list; NULL while unknown).
ALTER TABLE hosts ADD COLUMN terminal INTEGER;
ALTER TABLE hosts ADD COLUMN api_roles TEXT;
