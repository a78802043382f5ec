package io.fraudpipeline.origin;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.flink.util.Collector;

/**
 * A Kafka record's value as a UTF-8 string (as {@code SimpleStringSchema} decodes it: invalid
 * bytes become U+FFFD and reach validation), with its topic, partition and offset in an
 * {@link Origin} envelope. A null value (a tombstone) is an empty record.
 */
public final class KafkaOriginDeserializer implements KafkaRecordDeserializationSchema<String> {
    private static final long serialVersionUID = 1L;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<String> out) {
        byte[] value = record.value();
        String text = value == null ? "" : new String(value, StandardCharsets.UTF_8);
        out.collect(Origin.kafka(record.topic(), record.partition(), record.offset(), text));
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return Types.STRING;
    }
}
