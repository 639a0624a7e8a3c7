-- Events and alerts are read-only (SPEC §5), so `events:write` and `alerts:write` no longer
-- exist. Keys minted before listed them; each becomes the `:read` it always amounted to, so
-- every key lists exactly what it can do. The list stays sorted and without duplicates,
-- as domain/permissions.py `effective_permissions` makes it.
UPDATE api_keys
SET permissions = (
    SELECT json_group_array(permission ORDER BY permission)
    FROM (
        SELECT DISTINCT
            CASE value
                WHEN 'events:write' THEN 'events:read'
                WHEN 'alerts:write' THEN 'alerts:read'
                ELSE value
            END AS permission
        FROM json_each(api_keys.permissions)
    )
)
WHERE EXISTS (
    SELECT 1 FROM json_each(api_keys.permissions)
    WHERE value IN ('events:write', 'alerts:write')
);
