-- id: geo_jump_sql
-- severity: medium
-- description: consecutive events of a wallet from countries too far apart for the time between them
--
-- LAG over each wallet's located events gives the previous country; the UDF
-- country_distance_km (a JVM function, udfs/geo.py) measures the jump between the two countries' centroids.
-- Alert when it is at least detectors.geo_jump.min_distance_km and the implied speed exceeds
-- detectors.geo_jump.max_speed_kmh, as operators/geo_jump.py.
SELECT wallet_id, tx_id, event_time, score,
  CONCAT(CAST(CAST(km AS DECIMAL(10, 0)) AS STRING), ' km from ', prev_country, ' in ',
    CAST((event_time_ms - prev_ms) / 60000 AS STRING), ' min') AS reason
FROM (
  SELECT *, country_distance_km(prev_country, geo_country) AS km
  FROM (
    SELECT wallet_id, tx_id, event_time, event_time_ms, score, geo_country,
      LAG(geo_country) OVER w AS prev_country,
      LAG(event_time_ms) OVER w AS prev_ms
    FROM enriched_events
    WHERE country_distance_km(geo_country, geo_country) IS NOT NULL
    WINDOW w AS (PARTITION BY wallet_id ORDER BY event_time)
  )
  WHERE prev_country IS NOT NULL AND prev_country <> geo_country
)
WHERE km >= ${detectors.geo_jump.min_distance_km}
  AND km * 3600000 > ${detectors.geo_jump.max_speed_kmh} * (event_time_ms - prev_ms)
