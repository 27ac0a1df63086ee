# A thin wrapper: Meson builds, these targets are the entry points.
#   make        build build/clearvault
#   make run    the demo (SQLite + SoftHSM2)
#   make check  the whole test suite, ASan + UBSan and fuzzing included
#   make check-valgrind
#               the command-level tests under Valgrind's Memcheck, on a
#               plain debug build (build-valgrind); hours, not in check
#   make bench  benchmarks against a baseline measured in the same run
#   make drill  the attack drills against live instances; reports in
#               drill-report.json / .md and drill-timeline.svg

BUILD := build
MESON_OPTS := -Dtests=false

.PHONY: all deps run check check-valgrind bench drill format clean

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

check-valgrind:
	@CLEARVAULT_VALGRIND=1 sh scripts/deps.sh
	@sh tests/valgrind.sh

bench: all
	@CLEARVAULT_BENCH=1 sh scripts/deps.sh
	@[ -f $(BUILD)/bench/bench_pg ] && [ -f $(BUILD)/bench/bench_tls ] || meson setup --reconfigure $(BUILD) $(MESON_OPTS) >/dev/null
	@ninja -C $(BUILD) >/dev/null
	@sh bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench build-valgrind demo
