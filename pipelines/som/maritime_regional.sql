-- Regional sea movements by year, from the member table.
WITH y AS (
    SELECT reference_year,
           CAST(SUM(movements) AS BIGINT)       AS movements,
           CAST(SUM(persons) AS BIGINT)         AS persons,
           CAST(SUM(dead_or_missing) AS BIGINT) AS dead_or_missing,
           CAST(COUNT(*) AS BIGINT)             AS reporting_members
    FROM maritime_by_member
    GROUP BY reference_year
), w AS (
    SELECT y.*,
           MAX(persons) OVER (ORDER BY reference_year ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_max
    FROM y
)
SELECT w.reference_year,
       w.movements,
       w.persons,
       w.dead_or_missing,
       w.reporting_members,
       CASE WHEN w.persons = 0 THEN NULL
            ELSE round(1000.0 * CAST(w.dead_or_missing AS DOUBLE) / CAST(w.persons AS DOUBLE), 2) END AS mortality_per_1000,
       CASE WHEN p.persons IS NULL OR p.persons = 0 THEN NULL
            ELSE round(100.0 * CAST(w.persons - p.persons AS DOUBLE) / CAST(p.persons AS DOUBLE), 2) END AS persons_change_pct,
       COALESCE(w.persons > w.earlier_max, false) AS unprecedented
FROM w
LEFT JOIN y p ON p.reference_year = w.reference_year - 1
ORDER BY w.reference_year
