-- Unsuppressed victim counts per member and year. INTERNAL: never published;
-- victims_by_member applies disclosure control to this table.
WITH agg AS (
    SELECT reference_year, reporting_member,
           COUNT(*)                                                   AS victims,
           SUM(CASE WHEN age_group = 'child' THEN 1 ELSE 0 END)       AS children,
           SUM(CASE WHEN referred_to_protection THEN 1 ELSE 0 END)    AS referred
    FROM trafficking_victims
    GROUP BY reference_year, reporting_member
)
SELECT r.reference_year,
       r.reporting_member,
       CAST(COALESCE(a.victims, 0) AS BIGINT)  AS victims,
       CAST(COALESCE(a.children, 0) AS BIGINT) AS children,
       CAST(COALESCE(a.referred, 0) AS BIGINT) AS referred
FROM returns r
LEFT JOIN agg a ON a.reference_year = r.reference_year AND a.reporting_member = r.reporting_member
WHERE r.dataset = 'trafficking_victims'
ORDER BY r.reference_year, r.reporting_member
