-- Who submitted what: every state and territory × dataset × year covered.
WITH rejected AS (
    SELECT DISTINCT reporting_member, dataset, reference_year
    FROM submissions
    WHERE status = 'rejected' AND dataset IS NOT NULL AND reference_year IS NOT NULL
)
SELECT y.reference_year,
       m.code AS reporting_member,
       d.dataset,
       CASE WHEN r.version IS NOT NULL THEN 'accepted'
            WHEN x.reporting_member IS NOT NULL THEN 'rejected'
            ELSE 'missing' END AS status,
       r.version,
       r.received_at,
       CASE WHEN r.received_at IS NULL THEN NULL
            ELSE r.received_at <= p.submission_deadline END AS on_time
FROM cycle_years y
CROSS JOIN members m
CROSS JOIN datasets d
CROSS JOIN params p
LEFT JOIN returns r
  ON r.reference_year = y.reference_year AND r.reporting_member = m.code AND r.dataset = d.dataset
LEFT JOIN rejected x
  ON x.reference_year = y.reference_year AND x.reporting_member = m.code AND x.dataset = d.dataset
WHERE m.kind IN ('state', 'territory')
ORDER BY y.reference_year, m.code, d.dataset
