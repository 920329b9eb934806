-- Warnings on accepted data; they never stop a run and go to the caveats annex.
--   W_YOY_CHANGE    a figure changed by more than yoy_factor times since the year before
--   W_DROP_TO_ZERO  a return with no rows where the year before had drop_min_rows or more
--   W_OUTLIER       a figure far from the member's own history (modified z-score, median/MAD)
-- Messages about trafficking_victims never quote a count (a count quoted here
-- could be one disclosure control hides in victims_by_member), and the outlier
-- test leaves victims out, since its median and z-score would reveal them too.
WITH s AS (
    SELECT * FROM member_series
), pairs AS (
    SELECT cur.reference_year, cur.reporting_member, cur.dataset, cur.metric,
           cur.value, prev.value AS prev_value
    FROM s cur
    JOIN s prev
      ON prev.reporting_member = cur.reporting_member AND prev.dataset = cur.dataset
     AND prev.metric = cur.metric AND prev.reference_year = cur.reference_year - 1
), yoy AS (
    SELECT reference_year, reporting_member, dataset, 'W_YOY_CHANGE' AS code,
           CASE WHEN dataset = 'trafficking_victims'
                THEN metric || ' changed by more than ' || CAST(p.yoy_factor AS VARCHAR) || ' times since ' || CAST(reference_year - 1 AS VARCHAR)
                ELSE metric || ' went from ' || CAST(prev_value AS VARCHAR) || ' in ' || CAST(reference_year - 1 AS VARCHAR)
                     || ' to ' || CAST(value AS VARCHAR) || ' (more than ' || CAST(p.yoy_factor AS VARCHAR) || ' times)' END AS message
    FROM pairs CROSS JOIN params p
    WHERE value > 0 AND prev_value > 0
      AND LEAST(value, prev_value) >= p.yoy_min_base
      AND (CAST(value AS DOUBLE) > p.yoy_factor * prev_value OR CAST(prev_value AS DOUBLE) > p.yoy_factor * value)
), zero AS (
    SELECT reference_year, reporting_member, dataset, 'W_DROP_TO_ZERO' AS code,
           CASE WHEN dataset = 'trafficking_victims'
                THEN 'no rows reported where ' || CAST(reference_year - 1 AS VARCHAR) || ' had ' || CAST(p.drop_min_rows AS VARCHAR) || ' or more'
                ELSE 'no rows reported where ' || CAST(reference_year - 1 AS VARCHAR) || ' had ' || CAST(prev_value AS VARCHAR) END AS message
    FROM pairs CROSS JOIN params p
    WHERE metric = 'rows' AND value = 0 AND prev_value >= p.drop_min_rows
), history AS (
    SELECT cur.reference_year, cur.reporting_member, cur.dataset, cur.metric, cur.value,
           median(CAST(other.value AS DOUBLE)) AS med,
           COUNT(*) AS years
    FROM s cur
    JOIN s other
      ON other.reporting_member = cur.reporting_member AND other.dataset = cur.dataset
     AND other.metric = cur.metric AND other.reference_year <> cur.reference_year
    GROUP BY cur.reference_year, cur.reporting_member, cur.dataset, cur.metric, cur.value
), spread AS (
    SELECT h.reference_year, h.reporting_member, h.dataset, h.metric, h.value, h.med, h.years,
           median(abs(CAST(other.value AS DOUBLE) - h.med)) AS mad
    FROM history h
    JOIN s other
      ON other.reporting_member = h.reporting_member AND other.dataset = h.dataset
     AND other.metric = h.metric AND other.reference_year <> h.reference_year
    GROUP BY h.reference_year, h.reporting_member, h.dataset, h.metric, h.value, h.med, h.years
), outliers AS (
    SELECT reference_year, reporting_member, dataset, 'W_OUTLIER' AS code,
           metric || ' ' || CAST(value AS VARCHAR) || ' is far from the member''s other years (median '
           || CAST(round(med, 1) AS VARCHAR) || ', modified z-score ' || CAST(round(0.6745 * (value - med) / mad, 1) AS VARCHAR) || ')' AS message
    FROM spread CROSS JOIN params p
    WHERE dataset <> 'trafficking_victims' AND years >= p.mad_min_years AND mad > 0 AND abs(0.6745 * (value - med) / mad) > p.mad_z
)
SELECT * FROM yoy
UNION ALL SELECT * FROM zero
UNION ALL SELECT * FROM outliers
