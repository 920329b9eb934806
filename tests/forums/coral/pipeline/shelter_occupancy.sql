-- Beds and beds occupied across the region, by year.
SELECT reference_year,
       CAST(SUM(capacity) AS BIGINT) AS capacity,
       CAST(SUM(occupied) AS BIGINT) AS occupied,
       CASE WHEN SUM(capacity) = 0 THEN NULL
            ELSE round(100.0 * CAST(SUM(occupied) AS DOUBLE) / CAST(SUM(capacity) AS DOUBLE), 1) END AS occupancy_pct
FROM shelters
GROUP BY reference_year
