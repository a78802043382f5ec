"""The loader reads the lake the job writes: its S3 settings come from [sink], not copies."""

from __future__ import annotations

import pytest

from pipeline.config import ConfigError, config_keys, load_config
from pipeline.warehouse.lake import LocalLake, S3Lake, open_lake


def test_loader_lake_is_the_sink_output_dir_by_default():
    cfg = load_config(environ={})
    assert cfg.warehouse.lake_root == cfg.sink.output_dir
    assert cfg.warehouse.processed_prefix == cfg.sink.processed_prefix + "/"
    assert isinstance(open_lake(cfg.warehouse), LocalLake)


def test_loader_lake_follows_sink_s3_settings_from_the_environment():
    env = {
        "FRAUD_SINK_KIND": "s3",
        "FRAUD_SINK_S3_ROOT": "s3://other-bucket/lake2",
        "FRAUD_SINK_S3_ENDPOINT": "http://127.0.0.1:5999",
        "FRAUD_SINK_S3_PATH_STYLE_ACCESS": "false",
        "FRAUD_SINK_PROCESSED_PREFIX": "scored",
    }
    wcfg = load_config(environ=env).warehouse
    assert (wcfg.lake_root, wcfg.s3_endpoint_url, wcfg.s3_path_style) == (
        "s3://other-bucket/lake2",
        "http://127.0.0.1:5999",
        False,
    )
    assert wcfg.processed_prefix == "scored/"
    lake = open_lake(wcfg)
    assert isinstance(lake, S3Lake) and (lake.bucket, lake.prefix) == ("other-bucket", "lake2/")
    assert lake.client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert lake.client.meta.config.s3["addressing_style"] == "auto"


def test_sink_path_style_reaches_the_loader_s3_client():
    wcfg = load_config({"sink.kind": "s3"}, environ={}).warehouse
    lake = open_lake(wcfg)
    assert lake.client.meta.config.s3["addressing_style"] == "path"


def test_warehouse_section_holds_no_copy_of_the_sink_s3_settings():
    keys = config_keys()
    for moved in ("lake_root", "s3_endpoint_url", "processed_prefix"):
        assert f"warehouse.{moved}" not in keys


@pytest.mark.parametrize("name", ["FRAUD_WAREHOUSE_LAKE_ROOT", "FRAUD_WAREHOUSE_S3_ENDPOINT_URL"])
def test_old_warehouse_lake_variable_is_an_error_not_silently_ignored(name):
    with pytest.raises(ConfigError, match=name):
        load_config(environ={name: "s3://fraud-lake"})


@pytest.mark.parametrize("prefix", ["quarantine/warehouse/", "processed/bad/", "alerts/"])
def test_warehouse_quarantine_cannot_sit_inside_a_lake_zone(prefix):
    with pytest.raises(ConfigError, match="quarantine_prefix"):
        load_config({"warehouse.quarantine_prefix": prefix}, environ={})


def test_warehouse_quarantine_default_is_its_own_prefix():
    cfg = load_config(environ={})
    q = cfg.warehouse.quarantine_prefix
    assert q == "warehouse-quarantine/"
    assert not q.startswith(cfg.sink.quarantine_prefix)
