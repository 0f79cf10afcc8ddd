-- Legs: the hop between consecutive stops of one aircraft's route (same episode, aircraft, variant, evidence),
-- with great-circle distance where both ends are located and duration where both times are known.
CREATE OR REPLACE TABLE core_legs AS
WITH paired AS (
    SELECT s.*,
           LEAD(stop_id) OVER route AS to_stop_id
    FROM core_stops s
    WINDOW route AS (PARTITION BY episode_id, aircraft_id, variant, evidence ORDER BY seq)
)
SELECT
    f.episode_id || '/' || f.aircraft_id || '/' || f.variant || '/' || f.evidence || '/' || f.seq AS leg_id,
    f.episode_id, f.aircraft_id, f.variant, f.is_main_variant, f.evidence, f.seq AS leg_seq,
    f.stop_id AS from_stop_id, t.stop_id AS to_stop_id,
    f.place_id AS from_place_id, f.place_name AS from_name, f.place_precision AS from_precision,
    f.country AS from_country, f.lat AS from_lat, f.lon AS from_lon,
    t.place_id AS to_place_id, t.place_name AS to_name, t.place_precision AS to_precision,
    t.country AS to_country, t.lat AS to_lat, t.lon AS to_lon,
    f.dep_earliest_utc, f.dep_latest_utc, f.dep_precision,
    t.arr_earliest_utc, t.arr_latest_utc, t.arr_precision,
    gc_km(f.lat, f.lon, t.lat, t.lon) AS distance_km,
    CASE WHEN f.lat IS NULL OR t.lat IS NULL THEN NULL
         WHEN f.location_basis = 'airport' AND t.location_basis = 'airport' THEN 'airports'
         ELSE 'inferred' END AS distance_basis,
    CASE WHEN is_exactish(f.dep_precision) AND is_exactish(t.arr_precision)
         THEN hours_between(f.dep_earliest_utc + (f.dep_latest_utc - f.dep_earliest_utc) / 2,
                            t.arr_earliest_utc + (t.arr_latest_utc - t.arr_earliest_utc) / 2) END AS duration_h,
    nonneg(hours_between(f.dep_latest_utc, t.arr_earliest_utc)) AS duration_min_h,
    hours_between(f.dep_earliest_utc, t.arr_latest_utc) AS duration_max_h,
    f.country <> t.country AS is_international,
    -- the two stops' order is our inference from a list, not a reported sequence: the leg itself is inferred
    (f.order_basis = 'inferred' OR t.order_basis = 'inferred') AS is_order_inferred,
    array_to_string(list_distinct(string_split(f.source_ids, ';') || string_split(t.source_ids, ';')), ';') AS source_ids
FROM paired f
JOIN core_stops t ON t.stop_id = f.to_stop_id
ORDER BY f.episode_id, f.aircraft_id, f.variant, f.evidence, f.seq;
