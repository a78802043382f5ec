# Task runner. `make run` sets everything up and runs the job; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help setup run test test-fast test-failure lint format bench train sample jars clean stack-up stack-down stack-status produce migrate load-warehouse bench-warehouse rules-check rules-test control-set control-show cluster-up cluster-submit cluster-status cluster-down dashboard metrics-record alarms-watch demo-stack test-java

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@bash scripts/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,train,msk]'
	@touch $(STAMP)

setup: $(STAMP) ## create the virtualenv, install pinned packages, build the connector jars, compile the per-record modules, build the JVM's class-data archive
	$(PY) -m pipeline jars
	$(PY) -m pipeline compile
	$(PY) -m pipeline cds

run: setup ## run the fraud job on the bundled sample (local minicluster) and print the summary
	$(PY) -m pipeline run

test: setup ## run the whole test suite (JUnit of the repo's Java, then every pytest test, failure injection included)
	mvn -q -f pom.xml test
	$(PY) -m pytest
	$(PY) -m pytest -m failure tests/failure

test-failure: setup ## the failure-injection suite alone (tests/failure: own stack, 100k events a scenario, ~8 min)
	$(PY) -m pytest -m failure tests/failure

test-fast: $(STAMP) ## only the pure-Python tests (no JVM, no servers)
	$(PY) -m pipeline compile
	$(PY) -m pytest -m "not minicluster and not stack"

lint: $(STAMP) ## ruff lint + format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP) ## ruff format and autofix
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup ## throughput, latency and memory of the job vs. the plain-Python baseline (EVENTS=1000000)
	$(PY) -m pipeline bench --events $${EVENTS:-1000000}

train: $(STAMP) ## retrain the ONNX model and regenerate its model card
	$(PY) -m models.train

sample: $(STAMP) ## regenerate the committed sample dataset
	$(PY) -m datasets.generator --sample

jars: $(STAMP) ## build the JVM connector jar and plugins from pom.xml
	$(PY) -m pipeline jars

stack-up: $(STAMP) ## start (or reuse) the local stack: Kafka 9092, moto 5000, PostgreSQL 5433
	$(PY) -m pipeline.stack up

stack-down: ## stop the local stack and check that no process is left
	$(PY) -m pipeline.stack down

stack-status: ## print each local stack service as up or down
	$(PY) -m pipeline.stack status

clean: ## remove outputs and build artefacts (keeps the virtualenv)
	rm -rf out build .bench

demo-stack: setup ## the full pipeline on the local stack: both producers + the job on kafka+kinesis (DURATION=s, default until Ctrl-C)
	$(PY) -m pipeline.demo --seconds $${DURATION:-0} $(ARGS)

test-java: ## only the JUnit tests of the repo's own Java (Kinesis source, shard batcher, watermarks)
	mvn -q -f pom.xml test

produce: $(STAMP) ## send transactions to the local stack (SINK=kafka|kinesis, ARGS="--events N --rate R")
	$(PY) -m pipeline.produce $${SINK:-kafka} $(ARGS)

migrate: $(STAMP) ## apply the sql/redshift migrations to the warehouse (idempotent; local PostgreSQL by default)
	$(PY) -m pipeline.warehouse migrate

load-warehouse: $(STAMP) ## load committed lake objects into the warehouse once (WATCH=1: keep polling as a daemon)
	$(PY) -m pipeline.warehouse load $(if $(WATCH),--watch,)

bench-warehouse: $(STAMP) ## loader rows/s vs baselines and BI query p50/p95 on ROWS synthetic rows (default 10000000)
	$(PY) -m pipeline.stack up
	$(PY) -m pipeline.warehouse bench --rows $${ROWS:-10000000}
rules-check: $(STAMP) ## parse and plan every SQL rule of [rules].dir (no job runs); errors name file:line
	$(PY) -m pipeline rules check

rules-test: $(STAMP) ## run one SQL rule on a CSV of events (RULE=sql/rules/x.sql EVENTS=file.csv)
	$(PY) -m pipeline rules test $${RULE:?RULE=sql/rules/<rule>.sql} --events $${EVENTS:-datasets/sample_transactions.csv}

control-set: $(STAMP) ## validate and publish a runtime settings update (ARGS="--detector velocity_burst.min_count=5 --disable structuring" or ARGS="--file update.json")
	$(PY) -m pipeline.control set $(ARGS)

control-show: $(STAMP) ## the control topic's updates and the settings they lead to
	$(PY) -m pipeline.control show

cluster-up: setup ## start the local standalone Flink cluster, web UI on http://127.0.0.1:8081
	$(PY) -m pipeline.cluster up

cluster-submit: setup ## submit the job to the local cluster (ARGS="--set source.kind=kafka ...")
	$(PY) -m pipeline.cluster submit $(ARGS)

cluster-status: ## task managers, slots and jobs of the local cluster
	$(PY) -m pipeline.cluster status

cluster-down: ## stop the local cluster and check that no process or port is left
	$(PY) -m pipeline.cluster down

metrics-record: $(STAMP) ## append scraped metrics to out/metrics/samples.jsonl (PORTS=9260-9269 for the cluster)
	$(PY) -m pipeline.prometheus record $(if $(PORTS),--ports $(PORTS))

alarms-watch: $(STAMP) ## evaluate the pipeline alarms on scraped metrics, publish to SNS (moto)
	$(PY) -m pipeline.alarms watch $(if $(PORTS),--ports $(PORTS))

dashboard: $(STAMP) ## write out/dashboard.html from the recorded metrics and the run's lake
	$(PY) -m pipeline dashboard --out out/dashboard.html
