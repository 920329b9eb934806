-- Identified victims by sex, age group and form of exploitation (regional,
-- not suppressed; only combinations that occur), added up from the
-- per-member counts of victims_profile.
SELECT reference_year,
       sex,
       age_group,
       exploitation,
       CAST(SUM(victims) AS BIGINT) AS victims
FROM victims_profile
GROUP BY reference_year, sex, age_group, exploitation
ORDER BY reference_year, sex, age_group, exploitation
