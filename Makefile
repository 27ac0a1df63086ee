# A thin wrapper: Meson builds, these targets are the entry points.
#   make        build build/clearvault
#   make run    the demo (SQLite + SoftHSM2)
#   make check  the whole test suite, ASan + UBSan and fuzzing included
#   make check-fault  every fault site of tests/fault/ (every allocation
#               too: make check tests every 10th), ~1 hour
#   make fuzz   every fuzz target for FUZZ_SECONDS (default 30 min) each,
#               its corpus merged back; summary in fuzz-report.txt
#               (tests/fuzz/campaign.sh: FUZZ_JOBS, FUZZ_ONLY, FUZZ_OUT)
#   make check-valgrind
#               the command-level tests under Valgrind's Memcheck, on a
#               plain debug build (build-valgrind); hours, not in check
#   make bench  benchmarks against a baseline measured in the same run
#   make soak   10 minutes at 60% of the maximum read rate, with logins,
#               searches, case changes and a canary read: memory,
#               descriptors and p99 every 10 s, a verdict; report in
#               soak-report/ (SOAK_SECONDS, SOAK_RATE: bench/soak.sh)
#   make drill  the attack drills against live instances; reports in
#               drill-report.json / .md and drill-timeline.svg

BUILD := build
MESON_OPTS := -Dtests=false

.PHONY: all deps run check check-fault check-valgrind fuzz bench soak drill format clean

all: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_OPTS) >/dev/null
	@ninja -C $(BUILD) >/dev/null
	@echo "built $(BUILD)/clearvault"

deps:
	@sh scripts/deps.sh

run: all
	@sh scripts/demo.sh

drill: all
	@$(BUILD)/clearvault drill run all --json drill-report.json \
	    --markdown drill-report.md --svg drill-timeline.svg

check: deps
	@sh tests/run.sh

check-fault: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan \
	    -Db_sanitize=address,undefined -Dbuildtype=debug -Db_lundef=false \
	    -Dtest_hooks=true >/dev/null
	@ninja -C build-asan >/dev/null
	@cd build-asan && FAULT_STRIDE=1 FAULT_CLASSES="file sqlite pq p11 ipc alloc" \
	    meson test --no-rebuild \
	    --timeout-multiplier 4 --print-errorlogs --verbose \
	    fault_every_site fault_every_site_serve fault_every_site_serve_pg

fuzz: deps
	@bash tests/fuzz/campaign.sh

check-valgrind:
	@CLEARVAULT_VALGRIND=1 sh scripts/deps.sh
	@sh tests/valgrind.sh

bench: all
	@CLEARVAULT_BENCH=1 sh scripts/deps.sh
	@[ -f $(BUILD)/bench/bench_pg ] && [ -f $(BUILD)/bench/bench_tls ] || meson setup --reconfigure $(BUILD) $(MESON_OPTS) >/dev/null
	@ninja -C $(BUILD) >/dev/null
	@sh bench/run.sh

soak: all
	@sh bench/soak.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench build-valgrind demo soak-report
