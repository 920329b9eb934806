-- Cases handled with a partner member, by reporting member and partner.
SELECT reference_year,
       reporting_member,
       partner_member,
       CAST(COUNT(*) AS BIGINT) AS cases
FROM enforcement_cases
WHERE partner_member IS NOT NULL
GROUP BY reference_year, reporting_member, partner_member
ORDER BY reference_year, reporting_member, partner_member
