-- One timeline: flight milestones (departures from origin, arrivals at and departures from the destination,
-- returns home), context events and sanctions, each as a UTC interval with its precision and sources.
CREATE OR REPLACE TABLE out_timeline AS
SELECT 'stop:' || stop_id || ':arr' AS item_id, episode_id, aircraft_id, evidence,
       'arrival' AS kind, role, 'Arrival at ' || place_name AS label, place_name,
       arr_earliest_utc AS earliest_utc, arr_latest_utc AS latest_utc, arr_precision AS precision,
       arr_reported AS reported, source_ids
FROM core_stops WHERE is_main_variant AND role IN ('destination', 'onward', 'home') AND arr_earliest_utc IS NOT NULL
UNION ALL
SELECT 'stop:' || stop_id || ':dep', episode_id, aircraft_id, evidence,
       'departure', role, 'Departure from ' || place_name, place_name,
       dep_earliest_utc, dep_latest_utc, dep_precision, dep_reported, source_ids
FROM core_stops WHERE is_main_variant AND role IN ('origin', 'destination', 'onward') AND dep_earliest_utc IS NOT NULL
UNION ALL
SELECT 'event:' || event_id, NULL, NULL, 'reported', 'event', kind, title, country_name,
       start_earliest_utc, coalesce(end_latest_utc, start_latest_utc), start_precision, start_reported, source_ids
FROM core_events
UNION ALL
SELECT 'sanction:' || sanction_id, NULL, NULL, 'reported', 'sanction', target_table,
       authority || ': ' || target_label, authority_country_name,
       effective_earliest_utc, effective_latest_utc, effective_precision, effective_reported, source_ids
FROM core_sanctions WHERE effective_earliest_utc IS NOT NULL
ORDER BY earliest_utc, item_id;
