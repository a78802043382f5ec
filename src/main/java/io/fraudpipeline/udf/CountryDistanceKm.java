package io.fraudpipeline.udf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * SQL {@code country_distance_km(country_a, country_b)}: km between two countries' centroids
 * (the locations the job's enrichment uses, so the same distance as the geo_jump detector's);
 * NULL when either country is NULL, empty or unknown.
 *
 * <p>A JVM function because rules call it on every located event: a Python row UDF costs a
 * round trip into the embedded interpreter per row. The centroids are read from the
 * countries CSV when the function is built (on the client) and travel with it, so a task
 * manager needs no copy of the file. The formula is operators/geo.py's haversine, term by term.
 */
public class CountryDistanceKm extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    /** IUGG mean Earth radius, as operators/geo.py. */
    static final double EARTH_RADIUS_KM = 6371.0088;

    private final HashMap<String, double[]> centroids;

    /** Centroids from a CSV with a header naming {@code country}, {@code lat} and {@code lon}. */
    public CountryDistanceKm(String countriesCsv) {
        this.centroids = readCentroids(Path.of(countriesCsv));
    }

    CountryDistanceKm(Map<String, double[]> centroids) {
        this.centroids = new HashMap<>(centroids);
    }

    public @DataTypeHint("DOUBLE") Double eval(String countryA, String countryB) {
        if (countryA == null || countryB == null || countryA.isEmpty() || countryB.isEmpty()) {
            return null;
        }
        double[] a = centroids.get(countryA);
        double[] b = centroids.get(countryB);
        if (a == null || b == null) {
            return null;
        }
        if (countryA.equals(countryB)) {
            return 0.0;
        }
        return haversineKm(a[0], a[1], b[0], b[1]);
    }

    @Override
    public boolean isDeterministic() {
        return true;
    }

    /** Great-circle distance in km between two (latitude, longitude) points in degrees. */
    static double haversineKm(double lat1, double lon1, double lat2, double lon2) {
        double phi1 = Math.toRadians(lat1);
        double phi2 = Math.toRadians(lat2);
        double halfDphi = (phi2 - phi1) / 2;
        double halfDlambda = Math.toRadians(lon2 - lon1) / 2;
        double sinDphi = Math.sin(halfDphi);
        double sinDlambda = Math.sin(halfDlambda);
        double a = sinDphi * sinDphi + Math.cos(phi1) * Math.cos(phi2) * sinDlambda * sinDlambda;
        return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1.0, Math.sqrt(a)));
    }

    static HashMap<String, double[]> readCentroids(Path csv) {
        List<String> lines;
        try {
            lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the countries file " + csv, e);
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("the countries file " + csv + " is empty");
        }
        List<String> header = List.of(lines.get(0).strip().split(",", -1));
        int country = header.indexOf("country");
        int lat = header.indexOf("lat");
        int lon = header.indexOf("lon");
        if (country < 0 || lat < 0 || lon < 0) {
            throw new IllegalArgumentException(
                    csv + ": the header must name country, lat and lon, not " + header);
        }
        HashMap<String, double[]> out = new HashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split(",", -1);
            try {
                out.put(f[country], new double[] {Double.parseDouble(f[lat]), Double.parseDouble(f[lon])});
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + ": " + line, e);
            }
        }
        return out;
    }
}
