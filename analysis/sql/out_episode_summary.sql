-- One row per episode: its aircraft, when it reached its destination, how long it stayed, how far it flew
-- (main variant; the aircraft with the longest located outbound route stands for the episode).
CREATE OR REPLACE TABLE out_episode_summary AS
WITH lead AS (
    SELECT * FROM out_route_summary
    WHERE is_main_variant
    QUALIFY row_number() OVER (PARTITION BY episode_id
        ORDER BY (evidence = 'reported') DESC, legs_located DESC, outbound_km DESC NULLS LAST, aircraft_id) = 1
), craft AS (
    SELECT s.episode_id,
           list(DISTINCT s.aircraft_id ORDER BY s.aircraft_id) AS aircraft_ids,
           list(DISTINCT coalesce(a.label, s.aircraft_id) ORDER BY coalesce(a.label, s.aircraft_id)) AS aircraft_labels,
           list(DISTINCT s.evidence ORDER BY s.evidence) AS evidence_kinds,
           -- least()/greatest() skip NULLs: the earliest known of any arrival or departure
           least(min(s.dep_earliest_utc), min(s.arr_earliest_utc)) AS first_time_utc,
           greatest(max(s.arr_latest_utc), max(s.dep_latest_utc)) AS last_time_utc,
           -- the same first milestone as the source words it (for display: never its UTC lower bound)
           arg_min(CASE WHEN s.arr_earliest_utc IS NULL OR s.dep_earliest_utc < s.arr_earliest_utc
                        THEN s.dep_reported ELSE s.arr_reported END,
                   least(s.arr_earliest_utc, s.dep_earliest_utc)) AS first_time_reported
    FROM core_stops s LEFT JOIN core_aircraft a USING (aircraft_id)
    WHERE s.is_main_variant GROUP BY s.episode_id
), variants AS (
    SELECT episode_id, count(DISTINCT variant) AS variant_count FROM core_stops GROUP BY episode_id
), disputes AS (
    -- a conflict counts once, however many positions it has
    SELECT episode_id, count(DISTINCT conflict_id) AS conflict_count FROM core_conflicts WHERE episode_id IS NOT NULL GROUP BY episode_id
)
SELECT e.episode_id, e.title, e.destination_country, e.destination_country_name,
       c.first_time_utc IS NOT NULL AS is_dated,
       c.aircraft_ids, c.aircraft_labels, len(c.aircraft_ids) AS aircraft_count, c.evidence_kinds,
       c.first_time_utc, c.first_time_reported, c.last_time_utc,
       l.aircraft_id AS lead_aircraft_id, la.label AS lead_aircraft_label, l.origin, l.destination,
       l.dest_arr_earliest_utc, l.dest_arr_latest_utc, l.dest_arr_precision,
       l.dest_dwell_min_h, l.dest_dwell_max_h, l.dest_dwell_h,
       l.stop_count, l.leg_count, l.outbound_staging_stops, l.outbound_staging_countries, l.staging_countries,
       l.countries_visited, l.country_count,
       l.total_km, l.is_total_complete, l.outbound_km, l.is_outbound_complete, l.direct_km, l.detour_factor,
       l.longest_leg_km, l.longest_leg_id, l.uses_inferred_places,
       v.variant_count, coalesce(d.conflict_count, 0) AS conflict_count,
       e.summary, e.source_ids
FROM core_episodes e
LEFT JOIN lead l USING (episode_id)
LEFT JOIN craft c USING (episode_id)
LEFT JOIN variants v USING (episode_id)
LEFT JOIN disputes d USING (episode_id)
LEFT JOIN core_aircraft la ON la.aircraft_id = l.aircraft_id
ORDER BY c.first_time_utc NULLS LAST, e.episode_id;
