"""Publish a settings update to the control topic: `python -m pipeline.control …`.

    python -m pipeline.control set --detector velocity_burst.min_count=5 --disable structuring
    python -m pipeline.control set --file update.json
    python -m pipeline.control show          # the updates on the topic and the settings they give

`set` builds the update, checks it exactly as the job will (types, ranges, known detectors
and rules, version newer than the topic's newest accepted update) and publishes it only
if it passes; the version defaults to one more than the newest on the topic. The job
checks again on arrival: a message published some other way that fails is rejected there
and audited (README "Changing settings at runtime").
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime

from .config import PipelineConfig, load_config
from .control_settings import (
    ControlError,
    Settings,
    apply_update,
    known_rule_ids,
    parse_update,
)

_READ_TIMEOUT_S = 10.0


def topic_history(cfg: PipelineConfig) -> list[str]:
    """Every message on the control topic, in order (one partition)."""
    from confluent_kafka import Consumer, TopicPartition

    from .kafka_security import confluent_config

    c = cfg.control
    consumer = Consumer(
        {
            **confluent_config(cfg.security),
            "bootstrap.servers": c.bootstrap(cfg.source),
            "group.id": "fraud-pipeline-control-cli",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        meta = consumer.list_topics(c.topic, timeout=_READ_TIMEOUT_S)
        if meta.topics[c.topic].error is not None:
            raise RuntimeError(f"control topic {c.topic!r}: {meta.topics[c.topic].error}")
        messages: list[tuple[int, int, str]] = []
        for partition in sorted(meta.topics[c.topic].partitions):
            tp = TopicPartition(c.topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=_READ_TIMEOUT_S)
            if high <= low:
                continue
            consumer.assign([TopicPartition(c.topic, partition, low)])
            while True:
                msg = consumer.poll(_READ_TIMEOUT_S)
                if msg is None:
                    raise RuntimeError(f"timed out reading {c.topic!r} partition {partition}")
                if msg.error() is None:
                    messages.append(
                        (partition, msg.offset(), msg.value().decode("utf-8", "replace"))
                    )
                if msg.offset() >= high - 1:
                    break
        return [text for _, _, text in sorted(messages)]
    finally:
        consumer.close()


def replay(cfg: PipelineConfig, history: list[str], rule_ids) -> tuple[Settings, list[str]]:
    """The settings the job reaches from `history`, and one line per message."""
    settings, lines = Settings(), []
    for text in history:
        try:
            settings = apply_update(settings, parse_update(text, rule_ids), cfg)
            lines.append(f"accepted  v{settings.version}: {text}")
        except ControlError as exc:
            lines.append(f"rejected  ({exc.reason}: {exc}): {text}")
    return settings, lines


def bootstrap_settings(cfg: PipelineConfig) -> Settings:
    """The settings the control topic's history leads to now (the job's start-up floor)."""
    from .control_function import sql_rule_ids

    rule_ids = known_rule_ids(cfg.detectors, sql_rule_ids(cfg))
    return replay(cfg, topic_history(cfg), rule_ids)[0]


def build_update(args: argparse.Namespace, next_version: int) -> dict:
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict):
            raise ControlError("not_json_object", f"{args.file} does not hold a JSON object")
    else:
        doc = {}
    detectors = doc.setdefault("detectors", {})
    for item in args.detector:
        dotted, sep, text = item.partition("=")
        rule_id, dot, key = dotted.partition(".")
        if not sep or not dot:
            raise ControlError("bad_argument", f"--detector takes RULE.KEY=VALUE, not {item!r}")
        detectors.setdefault(rule_id, {})[key] = json.loads(text)
    rules = doc.setdefault("rules", {})
    for rule_id in args.enable:
        rules[rule_id] = {"enabled": True}
    for rule_id in args.disable:
        rules[rule_id] = {"enabled": False}
    for key in ("detectors", "rules"):
        if not doc[key]:
            del doc[key]
    if args.version is not None:
        doc["version"] = args.version
    doc.setdefault("version", next_version)
    doc.setdefault("issued_by", args.issued_by or getpass.getuser())
    doc.setdefault("issued_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return doc


def publish(cfg: PipelineConfig, text: str) -> None:
    """Send one update (idempotent producer, acks=all); waits until the broker has it."""
    from confluent_kafka import Producer

    from .kafka_security import confluent_config

    producer = Producer(
        {
            **confluent_config(cfg.security),
            "bootstrap.servers": cfg.control.bootstrap(cfg.source),
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": 10_000,
        }
    )
    errors: list = []
    producer.produce(cfg.control.topic, text.encode(), on_delivery=lambda e, _m: errors.append(e))
    producer.flush(15)
    if not errors or errors[0] is not None:
        raise RuntimeError(f"control update not delivered: {errors[0] if errors else 'timeout'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.control", description=__doc__)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="config")
    sub = parser.add_subparsers(dest="command", required=True)
    set_cmd = sub.add_parser("set", help="validate and publish one settings update")
    set_cmd.add_argument("--detector", action="append", default=[], metavar="RULE.KEY=VALUE")
    set_cmd.add_argument("--enable", action="append", default=[], metavar="RULE_ID")
    set_cmd.add_argument("--disable", action="append", default=[], metavar="RULE_ID")
    set_cmd.add_argument("--file", help="a JSON update (flags add to it)")
    set_cmd.add_argument("--version", type=int, help="default: newest on the topic + 1")
    set_cmd.add_argument("--issued-by", default="")
    set_cmd.add_argument("--dry-run", action="store_true", help="validate and print only")
    sub.add_parser("show", help="the topic's updates and the settings they lead to")
    args = parser.parse_args(argv)

    from .control_function import sql_rule_ids

    cfg = load_config(dict(kv.split("=", 1) for kv in args.config))
    rule_ids = known_rule_ids(cfg.detectors, sql_rule_ids(cfg))
    try:
        history = topic_history(cfg)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings, lines = replay(cfg, history, rule_ids)
    if args.command == "show":
        print("\n".join(lines) or f"(no updates on {cfg.control.topic})")
        print(f"in force: {settings.to_json()}")
        return 0
    try:
        doc = build_update(args, settings.version + 1)
        text = json.dumps(doc, sort_keys=True)
        new = apply_update(settings, parse_update(text, rule_ids), cfg)
    except (ControlError, json.JSONDecodeError) as exc:
        reason = getattr(exc, "reason", "malformed_json")
        print(f"error: update rejected ({reason}): {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"valid (not published): {text}\nwould be in force: {new.to_json()}")
        return 0
    try:
        publish(cfg, text)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"published to {cfg.control.topic}: {text}\nin force once applied: {new.to_json()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
