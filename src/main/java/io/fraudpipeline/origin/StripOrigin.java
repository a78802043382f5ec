package io.fraudpipeline.origin;

import org.apache.flink.api.common.functions.MapFunction;

/** A record without its {@link Origin} envelope: the raw zone keeps records as received. */
public final class StripOrigin implements MapFunction<String, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String map(String value) {
        return Origin.payload(value);
    }
}
