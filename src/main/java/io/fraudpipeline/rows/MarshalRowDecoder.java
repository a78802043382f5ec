package io.fraudpipeline.rows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;

/**
 * Turns the rows the keyed Python function packs with {@code marshal.dumps(values, 2)}
 * (pipeline/packed_rows.py) into Flink {@link Row}s of a given {@link RowTypeInfo}.
 *
 * <p>Why: a Python function that yields a 43-field row pays, on the job's bottleneck thread,
 * a Python converter per field (PyFlink) and then a Java object per field (pemja). Packed, the
 * row crosses as one {@code byte[]}, and this decoder, in the next task, builds the Row.
 *
 * <p>Reads marshal format version 2, the subset those values use: a tuple ({@code '('}) of
 * None ({@code 'N'}), booleans ({@code 'T'}, {@code 'F'}), ints ({@code 'i'}: 32-bit,
 * {@code 'l'}: 15-bit digits), floats ({@code 'g'}: IEEE 754 double) and strings
 * ({@code 'u'}, {@code 't'}: UTF-8). Version 2 writes no back-references. Each value is
 * converted to its field's type: STRING, BIGINT, INT, DOUBLE or BOOLEAN (a Python int in a
 * DOUBLE field becomes a double, as PyFlink's own row converter would fail on it). Anything
 * else is an {@link IllegalArgumentException} naming the field: a bug in the packing side,
 * never bad input (records are validated before they are packed).
 */
public class MarshalRowDecoder implements MapFunction<byte[], Row>, ResultTypeQueryable<Row> {

    private static final long serialVersionUID = 1L;

    private final RowTypeInfo type;
    private final char[] kinds;

    public MarshalRowDecoder(TypeInformation<Row> type) {
        if (!(type instanceof RowTypeInfo)) {
            throw new IllegalArgumentException("not a row type: " + type);
        }
        this.type = (RowTypeInfo) type;
        this.kinds = new char[this.type.getArity()];
        for (int i = 0; i < kinds.length; i++) {
            kinds[i] = kindOf(this.type.getTypeAt(i), this.type.getFieldNames()[i]);
        }
    }

    private static char kindOf(TypeInformation<?> t, String field) {
        if (t.equals(BasicTypeInfo.STRING_TYPE_INFO)) {
            return 'S';
        } else if (t.equals(BasicTypeInfo.LONG_TYPE_INFO)) {
            return 'J';
        } else if (t.equals(BasicTypeInfo.INT_TYPE_INFO)) {
            return 'I';
        } else if (t.equals(BasicTypeInfo.DOUBLE_TYPE_INFO)) {
            return 'D';
        } else if (t.equals(BasicTypeInfo.BOOLEAN_TYPE_INFO)) {
            return 'Z';
        }
        throw new IllegalArgumentException("field " + field + ": unsupported type " + t);
    }

    @Override
    public Row map(byte[] packed) {
        ByteBuffer buf = ByteBuffer.wrap(packed).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.get() != '(') {
            throw new IllegalArgumentException("not a marshalled tuple");
        }
        int n = buf.getInt();
        if (n != kinds.length) {
            throw new IllegalArgumentException(
                    "tuple of " + n + " values for a row of " + kinds.length + " fields");
        }
        Row row = new Row(RowKind.INSERT, n);
        for (int i = 0; i < n; i++) {
            row.setField(i, convert(read(buf, packed), i));
        }
        if (buf.hasRemaining()) {
            throw new IllegalArgumentException(buf.remaining() + " bytes after the tuple");
        }
        return row;
    }

    private static Object read(ByteBuffer buf, byte[] packed) {
        byte code = buf.get();
        switch (code) {
            case 'N':
                return null;
            case 'T':
                return Boolean.TRUE;
            case 'F':
                return Boolean.FALSE;
            case 'i':
                return (long) buf.getInt();
            case 'l':
                return readLong(buf);
            case 'g':
                return buf.getDouble();
            case 'u':
            case 't':
                int len = buf.getInt();
                int at = buf.position();
                buf.position(at + len);
                return new String(packed, at, len, StandardCharsets.UTF_8);
            default:
                throw new IllegalArgumentException(
                        "unsupported marshal type code 0x" + Integer.toHexString(code & 0xff));
        }
    }

    /** marshal's TYPE_LONG: a signed digit count, then 15-bit digits, least significant first. */
    private static long readLong(ByteBuffer buf) {
        int n = buf.getInt();
        int digits = Math.abs(n);
        if (digits > 4) {
            throw new IllegalArgumentException("integer wider than 60 bits");
        }
        long v = 0;
        for (int k = 0; k < digits; k++) {
            v |= ((long) (buf.getShort() & 0x7fff)) << (15 * k);
        }
        return n < 0 ? -v : v;
    }

    private Object convert(Object v, int i) {
        if (v == null) {
            return null;
        }
        char kind = kinds[i];
        if (kind == 'S' && v instanceof String
                || kind == 'Z' && v instanceof Boolean
                || kind == 'J' && v instanceof Long
                || kind == 'D' && v instanceof Double) {
            return v;
        }
        if (v instanceof Long && (kind == 'I' || kind == 'D')) {
            long l = (Long) v;
            if (kind == 'D') {
                return (double) l;
            }
            if (l == (int) l) {
                return (int) l;
            }
        }
        throw new IllegalArgumentException(
                "field " + type.getFieldNames()[i] + " (" + type.getTypeAt(i) + "): got "
                        + v.getClass().getSimpleName() + " " + v);
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return type;
    }
}
