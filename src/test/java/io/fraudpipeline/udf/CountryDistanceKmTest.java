package io.fraudpipeline.udf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CountryDistanceKmTest {

    private final CountryDistanceKm udf = new CountryDistanceKm(
            Map.of("DE", new double[] {51.17, 10.45}, "SG", new double[] {1.35, 103.82}));

    @Test
    void distanceBetweenCentroids() {
        double km = udf.eval("DE", "SG");
        assertTrue(km > 9_500 && km < 10_500, "DE-SG " + km);
        assertEquals(km, udf.eval("SG", "DE"), 1e-9);
        assertEquals(0.0, udf.eval("DE", "DE"));
    }

    @Test
    void unknownOrMissingCountriesAreNull() {
        assertNull(udf.eval("DE", null));
        assertNull(udf.eval(null, "DE"));
        assertNull(udf.eval("", "DE"));
        assertNull(udf.eval("DE", "ZZ"));
        assertNull(udf.eval("ZZ", "ZZ"));
    }

    @Test
    void antipodesStayFinite() {
        assertEquals(Math.PI * CountryDistanceKm.EARTH_RADIUS_KM,
                CountryDistanceKm.haversineKm(0, 0, 0, 180), 1e-6);
    }

    @Test
    void readsTheCsvByHeaderNames(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("countries.csv");
        Files.writeString(csv, "name,lon,country,lat\nGermany,10.45,DE,51.17\nSingapore,103.82,SG,1.35\n");
        assertEquals(udf.eval("DE", "SG"), new CountryDistanceKm(csv.toString()).eval("DE", "SG"), 1e-9);
    }

    @Test
    void aBadFileNamesItself(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("countries.csv");
        Files.writeString(csv, "code,lat,lon\nDE,1,2\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CountryDistanceKm(csv.toString()));
        assertTrue(e.getMessage().contains("country"), e.getMessage());
    }
}
