package io.fraudpipeline.kafka;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Kafka record key of a JSON-object string: the UTF-8 text of one top-level string field
 * (e.g. an alert's {@code wallet_id}), so every record of a wallet lands in one partition
 * and keeps its order. A record without that field (or not JSON) gets a null key.
 *
 * <p>Used as the key serializer of the job's alert {@code KafkaSink}; the value is the
 * record itself ({@code SimpleStringSchema}).
 */
public final class JsonFieldKeySerializer implements SerializationSchema<String> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String field;

    public JsonFieldKeySerializer(String field) {
        this.field = field;
    }

    @Override
    public byte[] serialize(String record) {
        if (record == null) {
            return null;
        }
        try {
            JsonNode value = JSON.readTree(record).get(field);
            return value == null || !value.isTextual()
                    ? null
                    : value.asText().getBytes(StandardCharsets.UTF_8);
        } catch (Exception e) {
            return null;
        }
    }
}
