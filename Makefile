# Kefu: two commands do everything.
#   make dev   - run the product locally (api on 127.0.0.1:8080 with a demo tenant)
#   make test  - every check and test, as CI runs them
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

.PHONY: help dev test test-images test-restore images services openapi bench-migrate bench-catalog bench-placement bench-realtime bench-store bench-edge bench-search bench-analytics

help:
	@echo "make dev            run the api locally with a demo tenant (prints URLs and a login)"
	@echo "make test           fmt, clippy, all tests against real Postgres and Redis"
	@echo "make images         build the container images kefu-api and kefu-edge with podman (docs/self-hosting.md)"
	@echo "make test-images    build the images, check they are reproducible, run them against Postgres and Redis"
	@echo "make test-restore   the backup drill: base backup, WAL archive, disaster, point-in-time recovery (docs/backups.md)"
	@echo "make openapi        regenerate docs/openapi.json from the code"
	@echo "make bench-migrate  time migrating 10,000 empty tenant schemas (see docs/benchmarks.md)"
	@echo "make bench-catalog  tenants per database: migration speed and backend memory as schemas accumulate"
	@echo "make bench-placement 10,000 tenants migrated in one database and spread over five, same run"
	@echo "make bench-realtime the real-time suite: durable msg/s, latency sweeps, fan-out vs Socket.IO, upgrades/s, idle sockets, resume"
	@echo "make bench-store    durable msg/s of the storing path: per-message, commit_delay, group commit, same run"
	@echo "make bench-edge     WebSocket round trips through the native edge against direct, same run"
	@echo "make bench-search   1,000,000 mixed Chinese/English messages in one tenant: index size, p50/p95 of typical searches"
	@echo "make bench-analytics a year of a busy tenant: refresh times, dashboard from rollups vs from facts"

dev:
	@bash infra/local/dev.sh

test:
	@bash infra/local/test.sh

images:
	@bash infra/images/build.sh

test-images:
	@bash infra/images/test.sh

test-restore:
	@bash infra/local/test-restore.sh

services:
	@infra/local/services.sh env

openapi:
	cargo run --quiet --locked -p kefu-api --bin kefu -- openapi > docs/openapi.json

bench-migrate:
	@bash infra/local/bench-migrate.sh

bench-catalog:
	@bash infra/local/bench-catalog.sh

bench-placement:
	@bash infra/local/bench-placement.sh

bench-realtime:
	@bash infra/local/bench-realtime.sh

bench-store:
	@bash infra/local/bench-store.sh

bench-edge:
	@bash infra/local/bench-edge.sh

bench-search:
	@bash infra/local/bench-search.sh

bench-analytics:
	@bash infra/local/bench-analytics.sh
