-- Crossings and persons by member and year; persons entering apart.
SELECT reference_year,
       reporting_member,
       CAST(COUNT(*) AS BIGINT)                                            AS crossings,
       CAST(SUM(persons) AS BIGINT)                                        AS persons,
       CAST(SUM(CASE WHEN direction = 'entry' THEN persons ELSE 0 END) AS BIGINT) AS persons_entering
FROM border_crossings
GROUP BY reference_year, reporting_member
