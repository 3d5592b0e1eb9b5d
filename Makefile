# The front door. `make` builds, `make check` installs what is missing, builds and runs the
# whole test suite (dev and asan builds, the threaded suites under tsan), `make demo` shows sluice on the example project.
.PHONY: all build deps check check-dev check-asan check-tsan demo release bench fuzz format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

build/dev/build.ninja:
	cmake --preset dev >/dev/null

build/asan/build.ninja:
	cmake --preset asan >/dev/null

build/tsan/build.ninja:
	cmake --preset tsan >/dev/null

build/release/build.ninja:
	cmake --preset release >/dev/null

build: build/dev/build.ninja
	cmake --build build/dev

release: build/release/build.ninja
	cmake --build build/release

check-dev: build/dev/build.ninja
	cmake --build build/dev
	ctest --test-dir build/dev --output-on-failure -j2

check-asan: build/asan/build.ninja
	cmake --build build/asan
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  ctest --test-dir build/asan --output-on-failure -j2

# The threaded suites under ThreadSanitizer: the store (pool, concurrent claims), exec
# (cancel from other threads), the server's unit tests and the end-to-end scripts that
# drive workers, the ticker, log streams, long polls and the poller at once. A subset, so
# that make check stays within about 15 minutes on a 2-core machine.
TSAN_TESTS := ^(unit/test_(store|server|exec.*)|e2e/server_(api|hooks|isolation|delayed|shared_fate|crash|poll|variables))$$

check-tsan: build/tsan/build.ninja
	cmake --build build/tsan
	TSAN_OPTIONS=second_deadlock_stack=1 ctest --test-dir build/tsan --output-on-failure -j2 -R '$(TSAN_TESTS)'

check: deps format-check
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-tsan
	$(MAKE) --no-print-directory check-dev

demo: deps release
	bash scripts/demo.sh build/release/sluice

bench: deps release
	bash scripts/install-deps.sh --bench
	bash bench/run.sh

# Every libFuzzer target (tests/fuzz/) for FUZZ_SECONDS each, under ASan and UBSan.
FUZZ_SECONDS ?= 60
fuzz: build/asan/build.ninja
	cmake --build build/asan
	bash scripts/fuzz.sh build/asan $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c')

format-check:
	@bad=$$(for f in $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c'); do \
	  [ -f "$$f" ] && ! clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 && echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "clang-format disagrees with: $$bad (run make format)"; exit 1; fi

clean:
	rm -rf build
