-- Criminalisation and treaty status: counts of members by year.
SELECT reference_year,
       CAST(COUNT(*) AS BIGINT)                                                          AS reporting_members,
       CAST(SUM(CASE WHEN smuggling_criminalised = 'full' THEN 1 ELSE 0 END) AS BIGINT)     AS smuggling_full,
       CAST(SUM(CASE WHEN smuggling_criminalised = 'partial' THEN 1 ELSE 0 END) AS BIGINT)  AS smuggling_partial,
       CAST(SUM(CASE WHEN smuggling_criminalised = 'none' THEN 1 ELSE 0 END) AS BIGINT)     AS smuggling_none,
       CAST(SUM(CASE WHEN trafficking_criminalised = 'full' THEN 1 ELSE 0 END) AS BIGINT)   AS trafficking_full,
       CAST(SUM(CASE WHEN trafficking_criminalised = 'partial' THEN 1 ELSE 0 END) AS BIGINT) AS trafficking_partial,
       CAST(SUM(CASE WHEN trafficking_criminalised = 'none' THEN 1 ELSE 0 END) AS BIGINT)   AS trafficking_none,
       CAST(SUM(CASE WHEN untoc_party THEN 1 ELSE 0 END) AS BIGINT)                       AS untoc_parties,
       CAST(SUM(CASE WHEN smuggling_protocol_party THEN 1 ELSE 0 END) AS BIGINT)          AS smuggling_protocol_parties,
       CAST(SUM(CASE WHEN tip_protocol_party THEN 1 ELSE 0 END) AS BIGINT)                AS tip_protocol_parties,
       CAST(SUM(CASE WHEN policy_guide_adopted THEN 1 ELSE 0 END) AS BIGINT)              AS policy_guide_adopted
FROM legal_framework
GROUP BY reference_year
ORDER BY reference_year
