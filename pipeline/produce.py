"""Send transactions to the local stack's Kafka topic or Kinesis stream.

    python -m pipeline.produce kafka --events 100000 --rate 0          # as fast as possible
    python -m pipeline.produce kafka --rate 500 --events 30000 --seed 3
    python -m pipeline.produce kinesis --replay datasets/sample_transactions.csv --speed 60

Synthetic events come from the generator (JSON lines, paced to --rate events/s; 0 = as
fast as possible). --replay sends a CSV or JSON-lines file in file order, paced by event
time at --speed x (60 = one hour of history per minute; 0 = no pacing); CSV rows become
JSON objects. Endpoints default to the local stack (python -m pipeline.stack up).
"""

from __future__ import annotations

import argparse
import sys

from pipeline import producers, stack


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.produce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sink", choices=("kafka", "kinesis"))
    p.add_argument("--topic", default="transactions", help="Kafka topic [transactions]")
    p.add_argument("--bootstrap", default=stack.KAFKA_BOOTSTRAP, help="Kafka bootstrap servers")
    p.add_argument("--stream", default=stack.KINESIS_STREAM, help="Kinesis stream [transactions]")
    p.add_argument(
        "--endpoint-url",
        default=stack.MOTO_ENDPOINT,
        help=f"Kinesis endpoint ['' = real AWS; default {stack.MOTO_ENDPOINT}]",
    )
    p.add_argument("--region", default=stack.AWS_REGION)
    p.add_argument("--rate", type=float, default=0.0, help="events/s, 0 = as fast as possible")
    p.add_argument("--events", type=int, default=10_000, help="synthetic events [10000]")
    p.add_argument("--seed", type=int, default=7, help="generator seed [7]")
    p.add_argument("--replay", metavar="FILE", help="send this CSV / JSON-lines file instead")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed-up, 0 = unpaced [1]")
    p.add_argument(
        "--part",
        metavar="K/N",
        help="send only wallet part K of N (producers sharing a seed split one world)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.replay:
            source = producers.replay(args.replay, args.speed)
        else:
            source = producers.synthetic(args.rate, args.events, args.seed)
        if args.part:
            k, n = (int(x) for x in args.part.split("/"))
            source = producers.wallet_part(source, k, n)
        if args.sink == "kafka":
            sink = producers.KafkaProducerSink(args.bootstrap, args.topic)
            target = f"kafka {args.bootstrap} topic {args.topic}"
        else:
            endpoint = args.endpoint_url or None
            if endpoint == stack.MOTO_ENDPOINT:
                stack.local_aws_env()  # dummy credentials for moto only
            sink = producers.KinesisProducerSink(args.stream, endpoint, args.region)
            target = f"kinesis {endpoint or 'AWS'} stream {args.stream}"
        print(f"{source.name} -> {target}", file=sys.stderr)
        stats = producers.run(source, sink, progress=not args.quiet)
    except producers.ProducerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(stats.summary())
    for err in sink.errors[:5]:
        print(f"  error: {err}", file=sys.stderr)
    return 0 if stats.failed == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
