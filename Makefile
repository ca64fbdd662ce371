# The two commands of the README: `make up` starts virtfleet, `make test` runs every test.
.PHONY: up test check setup

setup:
	./scripts/setup-system
	./scripts/setup-python

up: setup
	.venv/bin/virtfleet up

check: setup
	./scripts/check

# Lint and unit tests, the whole suite on SQLite, the integration suite and the all-in-one
# (through the SDK) on PostgreSQL, then the end-to-end tests on real QEMU (they need root:
# namespaces and libvirtd; they skip otherwise).
test: setup
	./scripts/check
	.venv/bin/pytest -q -p no:cacheprovider tests/integration tests/contract
	./scripts/with-postgres .venv/bin/pytest -q -p no:cacheprovider tests/integration tests/unit/test_search_sql.py \
		tests/contract/test_sdk_postgres_allinone.py
	.venv/bin/pytest -q -p no:cacheprovider tests/e2e
