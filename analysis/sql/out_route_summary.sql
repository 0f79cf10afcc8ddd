-- One route per episode, aircraft, variant and evidence: how far it went, how direct it was, where it stopped.
-- Outbound = from the origin to the first destination stop.
CREATE OR REPLACE TABLE out_route_summary AS
WITH dest AS (
    SELECT episode_id, aircraft_id, variant, evidence, min(seq) AS dest_seq
    FROM core_stops WHERE role = 'destination' GROUP BY ALL
), ends AS (
    SELECT s.episode_id, s.aircraft_id, s.variant, s.evidence,
           arg_min(s.stop_id, s.seq) AS origin_stop_id,
           any_value(s.stop_id) FILTER (WHERE s.seq = d.dest_seq) AS dest_stop_id,
           count(*) FILTER (WHERE s.role = 'staging' AND s.seq < d.dest_seq) AS outbound_staging_stops,
           count(*) AS stop_count,
           list(DISTINCT s.country_name ORDER BY s.country_name)
               FILTER (WHERE s.role = 'staging' AND s.seq < d.dest_seq) AS outbound_staging_countries,
           list(DISTINCT s.country_name ORDER BY s.country_name) FILTER (WHERE s.role IN ('staging')) AS staging_countries,
           list(DISTINCT s.country_name ORDER BY s.country_name) AS countries_visited
    FROM core_stops s LEFT JOIN dest d USING (episode_id, aircraft_id, variant, evidence)
    GROUP BY ALL
), legs AS (
    SELECT l.episode_id, l.aircraft_id, l.variant, l.evidence,
           count(*) AS leg_count,
           count(l.distance_km) AS legs_located,
           sum(l.distance_km) AS total_km,
           bool_and(l.distance_km IS NOT NULL) AS is_total_complete,
           sum(l.distance_km) FILTER (WHERE l.leg_seq < d.dest_seq) AS outbound_km,
           bool_and(l.distance_km IS NOT NULL) FILTER (WHERE l.leg_seq < d.dest_seq) AS is_outbound_complete,
           bool_or(l.distance_basis = 'inferred') AS uses_inferred_places,
           max(l.distance_km) AS longest_leg_km,
           arg_max(l.leg_id, l.distance_km) AS longest_leg_id
    FROM core_legs l LEFT JOIN dest d USING (episode_id, aircraft_id, variant, evidence)
    GROUP BY ALL
)
SELECT e.episode_id, e.aircraft_id, e.variant, e.variant = 'main' AS is_main_variant, e.evidence,
       o.place_name AS origin, t.place_name AS destination,
       o.dep_earliest_utc AS origin_dep_earliest_utc, o.dep_latest_utc AS origin_dep_latest_utc,
       t.arr_earliest_utc AS dest_arr_earliest_utc, t.arr_latest_utc AS dest_arr_latest_utc,
       t.arr_precision AS dest_arr_precision,
       t.dwell_min_h AS dest_dwell_min_h, t.dwell_max_h AS dest_dwell_max_h, t.dwell_h AS dest_dwell_h,
       e.stop_count, coalesce(l.leg_count, 0) AS leg_count, l.legs_located,
       e.outbound_staging_stops, e.outbound_staging_countries, e.staging_countries, e.countries_visited,
       len(e.countries_visited) AS country_count,
       l.total_km, l.is_total_complete,
       l.outbound_km, l.is_outbound_complete,
       gc_km(o.lat, o.lon, t.lat, t.lon) AS direct_km,
       -- only for a route with a reported staging stop: without one the path is unknown, not direct (1.00 would
       -- claim a straight flight nobody reported)
       CASE WHEN l.is_outbound_complete AND e.outbound_staging_stops > 0
            THEN l.outbound_km / nullif(gc_km(o.lat, o.lon, t.lat, t.lon), 0) END AS detour_factor,
       l.longest_leg_km, l.longest_leg_id, l.uses_inferred_places
FROM ends e
LEFT JOIN legs l USING (episode_id, aircraft_id, variant, evidence)
LEFT JOIN core_stops o ON o.stop_id = e.origin_stop_id
LEFT JOIN core_stops t ON t.stop_id = e.dest_stop_id
ORDER BY e.episode_id, e.aircraft_id, e.variant, e.evidence;
