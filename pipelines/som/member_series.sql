-- Each member's yearly figures, the series quality_flags compares.
-- INTERNAL: holds unsuppressed victim counts, never published.
SELECT reference_year, reporting_member, dataset, 'rows' AS metric, CAST(rows AS BIGINT) AS value
FROM returns
UNION ALL
SELECT reference_year, reporting_member, 'maritime_movements', 'persons', persons
FROM maritime_by_member
UNION ALL
SELECT reference_year, reporting_member, 'enforcement_cases', 'cases', CAST(SUM(cases) AS BIGINT)
FROM enforcement_by_member
GROUP BY reference_year, reporting_member
UNION ALL
SELECT reference_year, reporting_member, 'trafficking_victims', 'victims', victims
FROM victims_counts
