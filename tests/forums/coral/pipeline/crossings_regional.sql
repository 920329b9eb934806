-- The region by year, from the member table.
SELECT reference_year,
       CAST(SUM(crossings) AS BIGINT) AS crossings,
       CAST(SUM(persons) AS BIGINT)   AS persons,
       CAST(COUNT(*) AS BIGINT)       AS reporting_members
FROM crossings_by_member
GROUP BY reference_year
