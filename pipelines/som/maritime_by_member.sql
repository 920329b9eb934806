-- One row per member with an accepted maritime_movements return and year
-- (zero-row returns included, with zero counts).
WITH agg AS (
    SELECT reference_year, reporting_member,
           COUNT(*)                                                              AS movements,
           SUM(persons_on_board)                                                 AS persons,
           SUM(deaths + missing)                                                 AS dead_or_missing,
           SUM(CASE WHEN outcome = 'landed' THEN persons_on_board ELSE 0 END)              AS landed_persons,
           SUM(CASE WHEN outcome = 'prevented_departure' THEN persons_on_board ELSE 0 END) AS prevented_persons
    FROM maritime_movements
    GROUP BY reference_year, reporting_member
)
SELECT r.reference_year,
       r.reporting_member,
       CAST(COALESCE(a.movements, 0) AS BIGINT)         AS movements,
       CAST(COALESCE(a.persons, 0) AS BIGINT)           AS persons,
       CAST(COALESCE(a.dead_or_missing, 0) AS BIGINT)   AS dead_or_missing,
       CAST(COALESCE(a.landed_persons, 0) AS BIGINT)    AS landed_persons,
       CAST(COALESCE(a.prevented_persons, 0) AS BIGINT) AS prevented_persons
FROM returns r
LEFT JOIN agg a ON a.reference_year = r.reference_year AND a.reporting_member = r.reporting_member
WHERE r.dataset = 'maritime_movements'
ORDER BY r.reference_year, r.reporting_member
