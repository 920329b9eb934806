-- The cycle year's capacity needs as members wrote them (for the briefing's
-- annex). description is free text typed by members: the drafts escape it.
SELECT reference_year,
       reporting_member,
       need_id,
       area,
       assistance_type,
       CAST(priority AS BIGINT) AS priority,
       preferred_provider,
       description
FROM capacity_needs
WHERE reference_year = (SELECT cycle_year FROM params)
ORDER BY reference_year, reporting_member, need_id
