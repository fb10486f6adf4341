# The two commands a newcomer types (README.md): `make run` and `make check`.
# Every target first makes sure the Debian packages are installed (idempotent, fast when they are).
JOBS ?= $(shell nproc)
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
DEB_DIR ?= build-deb
FUZZ_SECONDS ?= 60

.PHONY: all build deps run check check-fast check-asan check-deb deb fuzz bench clean

all: build

deps:
	@bash packaging/install-deps.sh

# Our own builds treat warnings as errors (HEARSAY_WERROR is off for everyone else). Debug
# information is line tables only (-g1): enough for backtraces, perf and sanitizer reports, and
# full -g took about a third of the compile time (configure with -DCMAKE_BUILD_TYPE=Debug for gdb).
$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARSAY_WERROR=ON \
	  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# One agent in dev mode: HTTP 127.0.0.1:8500, DNS 127.0.0.1:8600, data in a fresh temp dir.
run: build
	$(BUILD_DIR)/agent/hearsay agent -dev

# The whole suite: unit, simulator and integration tests on the normal build, then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then the Debian package built,
# installed, run and purged. The package's agent is a plain Release build (-O3, NDEBUG, no
# -Werror: what `cmake -DCMAKE_BUILD_TYPE=Release` gives a user), so it is also the step that
# catches -O3-only warnings and Release-only breakage.
check: check-fast check-asan check-deb

check-fast: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300 -j $(JOBS)

$(ASAN_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARSAY_SANITIZE=ON -DHEARSAY_UNIT_ONLY=ON \
	  -DHEARSAY_WERROR=ON -DCMAKE_C_FLAGS_DEBUG=-g1 -DCMAKE_CXX_FLAGS_DEBUG=-g1

check-asan: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ctest --output-on-failure --timeout 300 -j $(JOBS) -L 'unit|fuzz'

# The Debian package (README "Install"): the agent linked against Debian's shared libraries
# (debian/rules), lintian-checked. Its CMake build directory, $(DEB_DIR)/obj, is kept between
# builds, so a second `make deb` recompiles only what changed; the .deb lands in $(DEB_DIR)/.
# No -dbgsym package (noddebs): compressing its debug information took most of a rebuild.
deb: deps
	mkdir -p $(DEB_DIR)
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb $(DEB_DIR)/*.buildinfo $(DEB_DIR)/*.changes
	pva=hearsay_$$(dpkg-parsechangelog -S Version)_$$(dpkg --print-architecture) && \
	HEARSAY_DEB_BUILDDIR=$(DEB_DIR)/obj HEARSAY_DEB_OUTDIR=$(CURDIR)/$(DEB_DIR) DEB_BUILD_OPTIONS=noddebs \
	dpkg-buildpackage -us -uc -b -j$(JOBS) \
	  --buildinfo-option=-u$(CURDIR)/$(DEB_DIR) --buildinfo-file=$(DEB_DIR)/$$pva.buildinfo \
	  --changes-option=-u$(CURDIR)/$(DEB_DIR) --changes-file=$(DEB_DIR)/$$pva.changes \
	  --check-command=lintian --check-option=--fail-on=error,warning --check-option=--display-info
	@ls $(DEB_DIR)/*.deb

# The package installed, its unit verified, the installed agent run as its user, then purged.
check-deb: deb
	bash tests/check_deb.sh $(DEB_DIR)

# libFuzzer + ASan + UBSan on every fuzz target, each for FUZZ_SECONDS.
fuzz: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARSAY_FUZZ=ON -DHEARSAY_UNIT_ONLY=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_DIR) -j $(JOBS)
	bash tests/fuzz/run_all.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# The benchmarks against their named peers (BENCHMARKS.md). First the hot-function order of the
# static link is refreshed from a profile of the current code (link/profile_hot_symbols.sh) and
# the agent relinked with it, so the figures are those of the layout that ships.
bench: build
	HEARSAY_BENCH_DEPS=1 bash packaging/install-deps.sh
	bash link/profile_hot_symbols.sh $(BUILD_DIR)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target hearsay
	bash bench/http.sh
	bash bench/dns.sh
	bash bench/replication.sh
	bash bench/gossip.sh
	bash bench/relay.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(DEB_DIR) build-release
