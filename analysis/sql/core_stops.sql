-- Stops: each reported (or observed) place on an aircraft's route, located at the precision the source gives,
-- with its arrival and departure as UTC intervals and the dwell time they allow.
CREATE OR REPLACE TABLE core_stops AS
SELECT
    s.stop_id, s.episode_id, s.aircraft_id, s.variant, s.variant = 'main' AS is_main_variant, s.seq,
    s.evidence, s.role, s.place_id, p.name AS place_name, p.precision AS place_precision,
    p.country, p.country_name, p.loc_icao, p.lat, p.lon, p.location_basis,
    s.arr_time AS arr_reported, s.arr_earliest_utc, s.arr_latest_utc, s.arr_precision,
    s.dep_time AS dep_reported, s.dep_earliest_utc, s.dep_latest_utc, s.dep_precision,
    -- dwell bounds: shortest = latest arrival to earliest departure; longest = earliest arrival to latest departure
    nonneg(hours_between(s.arr_latest_utc, s.dep_earliest_utc)) AS dwell_min_h,
    hours_between(s.arr_earliest_utc, s.dep_latest_utc) AS dwell_max_h,
    CASE WHEN is_exactish(s.arr_precision) AND is_exactish(s.dep_precision)
         THEN hours_between(s.arr_earliest_utc + (s.arr_latest_utc - s.arr_earliest_utc) / 2,
                            s.dep_earliest_utc + (s.dep_latest_utc - s.dep_earliest_utc) / 2) END AS dwell_h,
    s.is_inferred, coalesce(s.order_basis, 'reported') AS order_basis, s.order_inference,
    s.reported_on AS reported_on_reported, s.reported_on_earliest_utc,
    p.is_sourced_location, p.loc_closed_reported,
    -- a stop located at an airport that had closed by the time of the stop (e.g. Nouakchott GQNN after June 2016)
    p.loc_closed_utc IS NOT NULL
        AND coalesce(s.arr_earliest_utc, s.dep_earliest_utc) >= p.loc_closed_utc AS is_after_closure,
    s.source_ids, s.notes
FROM all_stops s
JOIN core_places p USING (place_id);
