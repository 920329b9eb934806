-- Identified victims by sex, age group and form of exploitation (regional,
-- not suppressed; only combinations that occur).
SELECT reference_year,
       sex,
       age_group,
       exploitation,
       CAST(COUNT(*) AS BIGINT) AS victims
FROM trafficking_victims
GROUP BY reference_year, sex, age_group, exploitation
ORDER BY reference_year, sex, age_group, exploitation
