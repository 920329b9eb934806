-- Identified victims by sex, age group and form of exploitation, per member
-- and year (internal): computed per return, so victims_regional adds up
-- small per-member counts instead of scanning every victim again after
-- one member's correction.
SELECT reference_year,
       reporting_member,
       sex,
       age_group,
       exploitation,
       CAST(COUNT(*) AS BIGINT) AS victims
FROM trafficking_victims
GROUP BY reference_year, reporting_member, sex, age_group, exploitation
