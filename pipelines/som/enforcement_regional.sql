-- Regional enforcement by year and offence, from the member table.
SELECT reference_year,
       offence,
       CAST(SUM(cases) AS BIGINT)              AS cases,
       CAST(SUM(investigations) AS BIGINT)     AS investigations,
       CAST(SUM(prosecutions) AS BIGINT)       AS prosecutions,
       CAST(SUM(convictions) AS BIGINT)        AS convictions,
       CAST(SUM(acquittals) AS BIGINT)         AS acquittals,
       CAST(SUM(suspects) AS BIGINT)           AS suspects,
       CAST(SUM(persons_involved) AS BIGINT)   AS persons_involved,
       CAST(SUM(cross_border_cases) AS BIGINT) AS cross_border_cases,
       CASE WHEN SUM(convictions) + SUM(acquittals) = 0 THEN NULL
            ELSE round(CAST(SUM(convictions) AS DOUBLE) / CAST(SUM(convictions) + SUM(acquittals) AS DOUBLE), 4) END AS conviction_rate,
       CASE WHEN SUM(cases) = 0 THEN NULL
            ELSE round(CAST(SUM(cross_border_cases) AS DOUBLE) / CAST(SUM(cases) AS DOUBLE), 4) END AS cross_border_share
FROM enforcement_by_member
GROUP BY reference_year, offence
ORDER BY reference_year, offence
