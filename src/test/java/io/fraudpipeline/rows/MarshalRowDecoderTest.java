package io.fraudpipeline.rows;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.junit.jupiter.api.Test;

/** The byte strings are Python 3.11's {@code marshal.dumps(values, 2).hex()} of the comment. */
class MarshalRowDecoderTest {

    private static final TypeInformation<Row> TEN_FIELDS = Types.ROW_NAMED(
            new String[] {"tx_id", "event_time_ms", "kyc_tier", "amount", "price", "known",
                "city", "delta_ms", "amount_int", "alert"},
            Types.STRING, Types.LONG, Types.INT, Types.DOUBLE, Types.DOUBLE, Types.BOOLEAN,
            Types.STRING, Types.LONG, Types.DOUBLE, Types.BOOLEAN);

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }

    @Test
    void decodesEveryValueKindIntoTheFieldTypes() {
        // ('tx_1', 1772000000123, 3, 1.5, None, True, 'Zürich €', -1772000000123, 7, False)
        Row row = new MarshalRowDecoder(TEN_FIELDS).map(hex(
                "280a000000750400000074785f316c030000007b38dc267206690300000067000000000000f83f"
                        + "4e54750b0000005ac3bc7269636820e282ac6cfdffffff7b38dc2672066907000000"
                        + "46"));
        assertEquals(RowKind.INSERT, row.getKind());
        assertEquals(10, row.getArity());
        assertEquals("tx_1", row.getField(0));
        assertEquals(1772000000123L, row.getField(1));
        assertEquals(3, row.getField(2));
        assertEquals(1.5, row.getField(3));
        assertNull(row.getField(4));
        assertEquals(Boolean.TRUE, row.getField(5));
        assertEquals("Zürich €", row.getField(6));
        assertEquals(-1772000000123L, row.getField(7));
        assertEquals(7.0, row.getField(8), "a Python int in a DOUBLE field becomes a double");
        assertEquals(Boolean.FALSE, row.getField(9));
    }

    @Test
    void producesItsRowType() {
        assertEquals(TEN_FIELDS, new MarshalRowDecoder(TEN_FIELDS).getProducedType());
    }

    @Test
    void aTupleOfAnotherLengthIsAnError() {
        // ('a',)
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MarshalRowDecoder(TEN_FIELDS).map(hex("2801000000750100000061")));
        assertTrue(e.getMessage().contains("tuple of 1 values for a row of 10 fields"), e.getMessage());
    }

    @Test
    void unsupportedValuesAndWrongTypesNameTheProblem() {
        TypeInformation<Row> two = Types.ROW_NAMED(
                new String[] {"tx_id", "n"}, Types.STRING, Types.LONG);
        // ('a', [1]): a list
        IllegalArgumentException list = assertThrows(IllegalArgumentException.class,
                () -> new MarshalRowDecoder(two).map(hex("28020000007501000000615b010000006901000000")));
        assertTrue(list.getMessage().contains("type code 0x5b"), list.getMessage());
        // ('tx_1', 2**62): wider than a long can hold safely
        IllegalArgumentException wide = assertThrows(IllegalArgumentException.class,
                () -> new MarshalRowDecoder(two).map(
                        hex("2802000000750400000074785f316c0500000000000000000000000400")));
        assertTrue(wide.getMessage().contains("60 bits"), wide.getMessage());
        // ('tx_1', 1772000000123, ...) into (STRING, STRING): the field is named
        TypeInformation<Row> strings = Types.ROW_NAMED(
                new String[] {"tx_id", "event_time"}, Types.STRING, Types.STRING);
        IllegalArgumentException typed = assertThrows(IllegalArgumentException.class,
                () -> new MarshalRowDecoder(strings).map(hex(
                        "2802000000750400000074785f316c030000007b38dc267206")));
        assertTrue(typed.getMessage().contains("field event_time"), typed.getMessage());
    }

    @Test
    void onlyRowsOfPlainTypes() {
        assertThrows(IllegalArgumentException.class,
                () -> new MarshalRowDecoder(Types.ROW_NAMED(new String[] {"t"}, Types.SQL_TIMESTAMP)));
    }
}
