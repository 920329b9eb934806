-- Each member's yearly figures, the series quality_flags compares: the rows
-- of every return, and the persons of maritime returns. (An enforcement
-- return has one row per case and a victims return one row per victim, so
-- their row counts are their case and victim counts: one series each, not
-- two, or every flag on them would be raised twice.)
-- INTERNAL: the rows of trafficking_victims returns are unsuppressed victim
-- counts; never published.
SELECT reference_year, reporting_member, dataset, 'rows' AS metric, CAST(rows AS BIGINT) AS value
FROM returns
UNION ALL
SELECT reference_year, reporting_member, 'maritime_movements', 'persons', persons
FROM maritime_by_member
