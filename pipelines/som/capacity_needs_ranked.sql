-- Capacity needs by area, ranked: most members requesting first, then most
-- priority-1 requests, then area name. top_provider is the most frequently
-- preferred provider (ties to the first in byte order).
WITH per_area AS (
    SELECT reference_year, area,
           COUNT(DISTINCT reporting_member)                  AS members_requesting,
           COUNT(*)                                          AS requests,
           SUM(CASE WHEN priority = 1 THEN 1 ELSE 0 END)     AS priority1_requests
    FROM capacity_needs
    GROUP BY reference_year, area
), providers AS (
    SELECT reference_year, area, preferred_provider, COUNT(*) AS n
    FROM capacity_needs
    WHERE preferred_provider IS NOT NULL
    GROUP BY reference_year, area, preferred_provider
), top AS (
    SELECT reference_year, area, preferred_provider AS top_provider
    FROM (
        SELECT reference_year, area, preferred_provider,
               ROW_NUMBER() OVER (PARTITION BY reference_year, area ORDER BY n DESC, preferred_provider ASC) AS pick
        FROM providers
    ) ranked
    WHERE pick = 1
)
SELECT p.reference_year,
       p.area,
       CAST(p.members_requesting AS BIGINT) AS members_requesting,
       CAST(p.requests AS BIGINT)           AS requests,
       CAST(p.priority1_requests AS BIGINT) AS priority1_requests,
       t.top_provider,
       CAST(ROW_NUMBER() OVER (PARTITION BY p.reference_year
                               ORDER BY p.members_requesting DESC, p.priority1_requests DESC, p.area ASC) AS BIGINT) AS rank
FROM per_area p
LEFT JOIN top t ON t.reference_year = p.reference_year AND t.area = p.area
ORDER BY p.reference_year, p.area
