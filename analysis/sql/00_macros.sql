-- Great-circle distance in km on a sphere of mean Earth radius (haversine); NULL when an end is unknown.
-- (least() skips NULLs in DuckDB, hence the explicit CASE.)
CREATE OR REPLACE MACRO gc_km(lat1, lon1, lat2, lon2) AS
    CASE WHEN lat1 IS NULL OR lon1 IS NULL OR lat2 IS NULL OR lon2 IS NULL THEN NULL
    ELSE 2 * 6371.0088 * asin(least(1.0, sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)))) END;
-- Hours between two instants (NULL-safe).
CREATE OR REPLACE MACRO hours_between(t0, t1) AS (epoch(t1) - epoch(t0)) / 3600.0;
-- greatest()/least() skip NULLs in DuckDB: a NULL input must stay NULL.
CREATE OR REPLACE MACRO nonneg(x) AS CASE WHEN x IS NULL THEN NULL ELSE greatest(0, x) END;
-- Precisions that pin an instant to within an hour: only these give point durations and dwell times.
CREATE OR REPLACE MACRO is_exactish(p) AS p IN ('second', 'minute', 'approx_hour');
