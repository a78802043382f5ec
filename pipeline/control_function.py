"""The control topic inside the job: its source, and the functions that apply its updates.

The control stream is broadcast to every parallel instance of `wallet-risk` (a keyed
broadcast process function over the shard batches) and of `sql-alert-control` (the SQL
rules' alerts). Each instance checks every update itself (deterministic: all agree), keeps
the settings in force in broadcast state `control-settings` (part of every checkpoint, so
a restore resumes with the version the checkpoint saw) and applies them to the batches
that arrive after the update. Subtask 0 of `wallet-risk` writes one audit line per update
(accepted or rejected, with the reason) to the `control-audit` side output.
"""

from __future__ import annotations

import dataclasses
import time

import orjson
from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import DataStream, OutputTag, StreamExecutionEnvironment
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from pyflink.datastream.functions import (
    BroadcastProcessFunction,
    KeyedBroadcastProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import MapStateDescriptor

from operators.decide import MODEL_RULE_ID, Decider, iso_ms
from operators.detectors import WalletDetectors

from .config import PipelineConfig
from .control_settings import (
    ControlError,
    Settings,
    apply_update,
    audit_record,
    detector_configs,
    known_rule_ids,
    parse_update,
    rule_enabled,
    silenced_rules,
)
from .functions import WalletRiskFunction
from .kafka_security import java_properties

SETTINGS_DESCRIPTOR = MapStateDescriptor("control-settings", Types.STRING(), Types.STRING())
CONTROL_AUDIT_TAG = OutputTag("control-audit", Types.STRING())
_SETTINGS_KEY = "settings"
_FLOOR_KEY = "floor"


def control_stream(env: StreamExecutionEnvironment, cfg: PipelineConfig) -> DataStream:
    """The control topic's updates (JSON strings), from the earliest offset on a fresh start
    (the whole history re-applied in order) or from the checkpointed offsets on a restore.

    Bounded when the job's input is (a bounded run must end); without watermarks: updates
    take effect in arrival order, not event time.
    """
    c = cfg.control
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(c.bootstrap(cfg.source))
        .set_topics(c.topic)
        .set_group_id(f"{cfg.source.kafka_group_id}-control")
        .set_starting_offsets(KafkaOffsetsInitializer.earliest())
        .set_value_only_deserializer(SimpleStringSchema())
        .set_property("isolation.level", "read_committed")
        .set_properties(java_properties(cfg.security))
    )
    if cfg.source.bounded:
        builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
    return (
        env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), "control-kafka")
        .uid("control-kafka")
        .set_parallelism(1)
    )


class SettingsKeeper:
    """The settings in force in one parallel instance, and how an update changes them.

    `chain`: the settings the control topic's updates have built, in order. `floor`: what
    the driver found by replaying the topic before the job started (`bootstrap_settings`),
    so the first records are judged under the topic's newest settings, not under the
    config's while the source is still re-reading the history; the chain passes it once
    the history is re-read. In force: the newer of the two. Both live in broadcast state;
    a restored state wins over the floor a restarted driver computed.
    """

    def __init__(
        self, cfg: PipelineConfig, sql_rule_ids: tuple[str, ...], floor: Settings | None = None
    ) -> None:
        self.cfg = cfg
        self.rule_ids = known_rule_ids(cfg.detectors, sql_rule_ids)
        self.chain = Settings()
        self.floor = floor or Settings()
        self.restored = False

    @property
    def settings(self) -> Settings:
        return self.chain if self.chain.version >= self.floor.version else self.floor

    def restore(self, state) -> bool:
        """Take the settings of a (read-only) broadcast state once; True if any are in force."""
        self.restored = True
        text = state.get(_SETTINGS_KEY)
        if text is not None:
            self.chain = Settings.from_json(text)
            floor = state.get(_FLOOR_KEY)
            self.floor = Settings.from_json(floor) if floor is not None else Settings()
        return self.settings.version > 0

    def receive(self, raw: str, state, now_ms: int) -> tuple[bool, str]:
        """Apply one update (writing it to the broadcast `state`); (applied, audit line)."""
        update = None
        try:
            update = parse_update(raw, self.rule_ids)
            self.chain = apply_update(self.chain, update, self.cfg)
        except ControlError as exc:
            verdict, reason, detail = "rejected", exc.reason, str(exc)
        else:
            verdict, reason, detail = "accepted", "", ""
        state.put(_SETTINGS_KEY, self.chain.to_json())
        state.put(_FLOOR_KEY, self.floor.to_json())
        now = iso_ms(now_ms)
        return verdict == "accepted", audit_record(
            verdict, update, raw, self.settings, now, reason, detail
        )


class ControlledWalletRiskFunction(WalletRiskFunction, KeyedBroadcastProcessFunction):
    """`WalletRiskFunction` whose detector thresholds, enabled rules and alert
    `settings_version` follow the control topic."""

    def __init__(
        self,
        cfg: PipelineConfig,
        source_name: str,
        sql_rule_ids: tuple[str, ...],
        floor: Settings | None = None,
    ):
        super().__init__(cfg, source_name)
        self._sql_rule_ids = sql_rule_ids
        self._floor = floor

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self._base_engine = self._engine
        self._base_decision = self._decider.settings
        self._keeper = SettingsKeeper(self._cfg, self._sql_rule_ids, self._floor)
        self._audits = subtask_index(runtime_context) == 0
        if self._keeper.settings.version:
            self._use(self._keeper.settings)  # the floor, until a restored state says otherwise

    def process_element(self, value, ctx):
        if not self._keeper.restored and self._keeper.restore(
            ctx.get_broadcast_state(SETTINGS_DESCRIPTOR)
        ):
            self._use(self._keeper.settings)
        yield from super().process_element(value, ctx)

    def process_broadcast_element(self, value, ctx):
        keeper = self._keeper
        state = ctx.get_broadcast_state(SETTINGS_DESCRIPTOR)
        if not keeper.restored:
            keeper.restore(state)
        _, audit = keeper.receive(value, state, time.time_ns() // 1_000_000)
        self._use(keeper.settings)
        if self._audits:
            yield CONTROL_AUDIT_TAG, audit

    def _use(self, settings: Settings) -> None:
        cfg = self._cfg
        detectors = WalletDetectors(detector_configs(cfg, settings), silenced_rules(cfg, settings))
        self._engine = self._base_engine.with_detectors(detectors)
        self._decider = Decider(
            dataclasses.replace(
                self._base_decision,
                settings_version=settings.version,
                model_rule_enabled=rule_enabled(cfg, settings, MODEL_RULE_ID),
            )
        )


def subtask_index(runtime_context: RuntimeContext) -> int:
    """This parallel instance's index. PyFlink 2.2.1's thread-mode runtime context calls
    `getIndexOfThisSubtask()`, which Flink 2's RuntimeContext no longer has (AttributeError);
    the index now lives in its TaskInfo."""
    try:
        return runtime_context.get_index_of_this_subtask()
    except AttributeError:
        return runtime_context._runtime_context.getTaskInfo().getIndexOfThisSubtask()


class SqlAlertControlFunction(BroadcastProcessFunction):
    """Drops the SQL rules' alerts of rules turned off and records the settings version."""

    def __init__(
        self, cfg: PipelineConfig, sql_rule_ids: tuple[str, ...], floor: Settings | None = None
    ) -> None:
        self._cfg = cfg
        self._sql_rule_ids = sql_rule_ids
        self._floor = floor

    def open(self, runtime_context: RuntimeContext) -> None:
        self._keeper = SettingsKeeper(self._cfg, self._sql_rule_ids, self._floor)

    def process_element(self, value, ctx):
        keeper = self._keeper
        if not keeper.restored:
            keeper.restore(ctx.get_broadcast_state(SETTINGS_DESCRIPTOR))
        alert = orjson.loads(value)
        if all(rule_enabled(self._cfg, keeper.settings, r) for r in alert["rule_ids"]):
            alert["settings_version"] = keeper.settings.version
            yield orjson.dumps(alert, option=orjson.OPT_SORT_KEYS).decode()

    def process_broadcast_element(self, value, ctx):
        keeper = self._keeper
        state = ctx.get_broadcast_state(SETTINGS_DESCRIPTOR)
        if not keeper.restored:
            keeper.restore(state)
        keeper.receive(value, state, time.time_ns() // 1_000_000)
        return ()


class ControlWiring:
    """Connects the broadcast control stream to the operators it steers (job.py)."""

    def __init__(
        self, cfg: PipelineConfig, control: DataStream, floor: Settings | None = None
    ) -> None:
        """`floor`: the settings the functions start with (`SettingsKeeper`)."""
        self._cfg = cfg
        self._broadcast = control.broadcast(SETTINGS_DESCRIPTOR)
        self._sql_rule_ids = sql_rule_ids(cfg)
        self._floor = floor

    def wallet_risk(self, batches, source_name: str) -> DataStream:
        """The wallet-risk function over the shard batches, steered by the control stream."""
        from .packed_rows import PACKED_ROW_TYPE

        function = ControlledWalletRiskFunction(
            self._cfg, source_name, self._sql_rule_ids, self._floor
        )
        return batches.connect(self._broadcast).process(function, output_type=PACKED_ROW_TYPE)

    def sql_alerts(self, alerts: DataStream) -> DataStream:
        """The SQL rules' alerts without those of rules turned off, with settings_version."""
        function = SqlAlertControlFunction(self._cfg, self._sql_rule_ids, self._floor)
        return (
            alerts.connect(self._broadcast)
            .process(function, output_type=Types.STRING())
            .name("sql-alert-control")
            .uid("sql-alert-control")
        )


def topic_wiring(env: StreamExecutionEnvironment, cfg: PipelineConfig) -> ControlWiring:
    """The control topic's wiring: its source, and the settings its history leads to now
    (read by the driver, so the job starts under them; `SettingsKeeper`)."""
    from .control import bootstrap_settings

    return ControlWiring(cfg, control_stream(env, cfg), bootstrap_settings(cfg))


def sql_rule_ids(cfg: PipelineConfig) -> tuple[str, ...]:
    """Ids of the SQL rule files in `[rules].dir` (rules an update may turn on or off)."""
    from .sql_rules import load_rule_set

    if not cfg.resolve(cfg.rules.dir).is_dir():
        return ()
    return tuple(rule.rule_id for rule in load_rule_set(cfg).rules)


def attach_control_audit(outputs, layout) -> None:
    """The control updates' audit lines → `<lake>/control-audit/` (JSON lines, exactly once)."""
    from .sinks import json_lines_sink

    if outputs.control_audit is None:
        return
    outputs.control_audit.sink_to(
        json_lines_sink(layout.uri("control-audit"), "control-audit")
    ).name("control-audit-sink").uid("control-audit-sink")
