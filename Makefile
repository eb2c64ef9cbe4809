# epochd build. Conventions (see README.md):
#   make            build into $(BUILD)/, binaries in $(BUILD)/bin/
#   make deps       install missing Debian (and npm test) packages
#   make check-unit unit, vector and interop tests (no root)
#   make check      everything CI runs (includes check-e2e)
#   make check-e2e  real ESP in network namespaces, in a qemu VM if the
#                   running kernel lacks ESP (root)
#   make asan/ubsan the unit tests under sanitizers
#   make fuzz       libFuzzer targets, a short run each
#   make bench      figures, one "BENCH name value unit" line each
# Every test run ends with one line "N passed, N failed[, N skipped]".

BUILD    ?= build
CC       ?= gcc
SAN      ?=
OPT      ?= -O2
V        ?= 0

DEB_PKGS := gcc make pkg-config libssl-dev libmnl-dev libconfig-dev \
            valgrind clang libclang-rt-dev
# End-to-end ESP tests (check-e2e): the emulator and what builds and runs its
# guest (busybox initramfs, module order with kmod, ip/ping from the host
# root). The guest kernel is downloaded, not installed (netns/vm-build.sh).
DEB_PKGS += qemu-system-x86 busybox-static kmod cpio iproute2 iputils-ping
# The key erasure test (tests/e2e/test_daemon_erasure.c) dumps the daemons'
# memory with gcore.
DEB_PKGS += gdb
# The spin model of the tunnel state machine (tests/model, issue 8).
DEB_PKGS += spin
# node/npm only for test peers; a NodeSource nodejs bundles npm and conflicts
# with Debian's npm package, so these are installed only if the commands are
# missing.
DEB_CMDS := node:nodejs npm:npm

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
            -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
            -fno-strict-overflow -fno-delete-null-pointer-checks
CPPFLAGS += -I. -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -g $(WARN) $(HARDEN)
LDFLAGS  += -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
LDLIBS   += $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)

# TEST_SECRETS=1: the key erasure test's build (make keyscan, its own tree
# $(BUILD)/keyscan): epochd writes every epoch's MLS secrets to the file
# named by EPOCHD_TEST_SECRETS_FILE (daemon/test_secrets.h). Never set in
# the normal build; the test checks that build/bin/epochd lacks the hook.
TEST_SECRETS ?=
ifneq ($(TEST_SECRETS),)
CPPFLAGS += -DEPOCHD_TEST_SECRETS
endif

ifneq ($(SAN),)
# Sanitizer builds: FORTIFY conflicts with ASan interceptors; keep frames.
HARDEN   := -fstack-protector-strong -fPIE
CFLAGS   += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SAN)
endif

ifeq ($(V),0)
Q := @
else
Q :=
endif

# ---- sources (auto-discovered so modules can be added without editing) ----
PROTO_SRC := $(sort $(wildcard proto/*.c))
PROTO_OBJ := $(PROTO_SRC:%.c=$(BUILD)/obj/%.o)
LIBPROTO  := $(BUILD)/lib/libproto.a
# xfrm/: the kernel's IPsec over XFRM netlink (libmnl). Unit tests link it.
XFRM_SRC  := $(sort $(wildcard xfrm/*.c))
XFRM_OBJ  := $(XFRM_SRC:%.c=$(BUILD)/obj/%.o)
LIBXFRM   := $(BUILD)/lib/libxfrm.a
MNL_LIBS  := $(shell pkg-config --libs libmnl 2>/dev/null || echo -lmnl)
# daemon/: epochd's parts (libdaemon.a: config, wire protocol, control
# protocol, ...) and its two programs, daemon/epochd.c and daemon/epochctl.c
# (built into $(BUILD)/bin/ when they exist). Unit tests link it too.
DAEMON_MAIN := daemon/epochd.c daemon/epochctl.c
DAEMON_SRC  := $(filter-out $(DAEMON_MAIN),$(sort $(wildcard daemon/*.c)))
DAEMON_OBJ  := $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o)
LIBDAEMON   := $(BUILD)/lib/libdaemon.a
DAEMON_BIN  := $(patsubst daemon/%.c,$(BUILD)/bin/%,$(wildcard $(DAEMON_MAIN)))
CONFIG_LIBS := $(shell pkg-config --libs libconfig 2>/dev/null || echo -lconfig)

UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)

BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(BUILD)/bin/epoch-bench

# Constant-time check program, run under valgrind by tests/ctgrind.sh.
CT_BIN    := $(BUILD)/tests/ct_mlkem

ALL_BIN   := $(UNIT_BIN) $(CT_BIN) $(if $(BENCH_SRC),$(BENCH_BIN))

.PHONY: all deps deps-deb deps-user deps-npm check check-unit check-long asan ubsan model \
        fuzz bench clean tests-build
.DEFAULT_GOAL := all
.SECONDARY:

all: deps $(LIBPROTO) $(LIBXFRM) $(LIBDAEMON) $(ALL_BIN) $(DAEMON_BIN)

# ---- dependencies: install only what is missing -------------------------
deps: deps-deb deps-user

# The unprivileged user epochd's network process runs as (docs/privsep.md);
# the e2e VM shares this root file system, so it is made here, on the host.
EPOCHD_USER := epochd
deps-user:
	@getent passwd $(EPOCHD_USER) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: creating system user $(EPOCHD_USER)"; \
	    useradd --system --no-create-home --shell /usr/sbin/nologin \
	      $(EPOCHD_USER); \
	  else echo "deps: no user $(EPOCHD_USER) (need root to create it;" \
	    "the daemon e2e tests use it)" >&2; fi; }

deps-deb:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	for cp in $(DEB_CMDS); do command -v $${cp%%:*} >/dev/null 2>&1 \
	    || missing="$$missing $${cp#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	  { apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing; }; \
	fi

NPM_DIR := tests/interop
deps-npm: deps-deb $(if $(wildcard $(NPM_DIR)/package.json),$(NPM_DIR)/node_modules/.installed)

$(NPM_DIR)/node_modules/.installed: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	$(Q)cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@

# ---- compile -------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC  $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBPROTO): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBXFRM): $(XFRM_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBDAEMON): $(DAEMON_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/daemon/%.o $(LIBDAEMON) $(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONFIG_LIBS) $(MNL_LIBS) \
		$(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(LIBDAEMON) \
		$(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONFIG_LIBS) $(MNL_LIBS) \
		$(LDLIBS)

# tests/e2e/test_*.c: programs on xfrm/ that need root (run by the e2e
# target); built with everything else.
E2E_XFRM_BIN := $(BUILD)/tests/e2e/test_xfrm_host
all: $(E2E_XFRM_BIN)

$(BUILD)/tests/e2e/%: $(BUILD)/obj/tests/e2e/%.o $(TESTLIB_OBJ) \
		$(LIBDAEMON) $(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONFIG_LIBS) $(MNL_LIBS) \
		$(LDLIBS)

$(CT_BIN): $(BUILD)/obj/tests/ct/ct_mlkem.o $(TESTLIB_OBJ) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_BIN): $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(TESTLIB_OBJ) $(LIBDAEMON) \
		$(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------
# The runner takes one executable per argument (run from the tree root, so
# vectors are found under tests/vectors) and prints the summed total.
RUNNER := tests/run.sh

# Unit tests: every tests/unit/test_*.c program. CHECK_SCRIPTS are further
# single-word test commands (scripts in tests/) run in the normal build only
# (valgrind, interop peers).
UNIT_CMDS     = $(UNIT_BIN)
CHECK_SCRIPTS :=
CHECK_SCRIPTS += tests/ctgrind.sh
CHECK_SCRIPTS += tests/interop/tsmls-selftest.sh
# The spin model of the tunnel state machine (docs/state-machine.md).
CHECK_SCRIPTS += tests/model/check.sh
SAN_FLAGS_ASAN  := address,undefined
SAN_FLAGS_UBSAN := undefined

tests-build: all

check-unit: all deps-npm
	$(Q)$(RUNNER) $(UNIT_CMDS) $(CHECK_SCRIPTS)

# The same unit tests under sanitizers (their own build trees).
asan: deps-npm
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=$(SAN_FLAGS_ASAN) tests-build
	$(Q)$(RUNNER) $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_CMDS))

ubsan: deps-npm
	$(Q)$(MAKE) --no-print-directory BUILD=build/ubsan SAN=$(SAN_FLAGS_UBSAN) tests-build
	$(Q)$(RUNNER) $(patsubst $(BUILD)/%,build/ubsan/%,$(UNIT_CMDS))

# Everything CI runs, as one run with one total line; the end-to-end ESP
# tests (check-e2e, below) are one command of it, their sum counted in.
# The libFuzzer targets run FUZZ_SMOKE_SECONDS each (fuzzing section).
# The e2e command gets build/asan as a second tree: in the same VM boot the
# daemon tests (test_daemon*) run again with the ASan+UBSan epochd,
# epochctl and test programs (tests/e2e/run.sh).
check: all deps-npm $(if $(wildcard daemon/epochd.c),keyscan)
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=$(SAN_FLAGS_ASAN) tests-build
	$(Q)$(RUNNER) $(UNIT_CMDS) $(CHECK_SCRIPTS) \
		$(patsubst $(BUILD)/%,build/asan/%,$(UNIT_CMDS)) \
		$(FUZZ_SMOKE) "$(E2E_CHECK) build/asan"

# Long runs: the 1,000,000-case ML-KEM accumulated test (a few minutes).
check-long: all
	$(Q)$(RUNNER) "$(BUILD)/tests/test_mlkem --accumulated=1000000"

# The spin model of the tunnel state machine alone (also in check-unit).
model:
	$(Q)tests/model/check.sh

bench: all
	$(Q)$(BENCH_BIN)

clean:
	rm -rf build

# ---- MLS test vectors --------------------------------------------------------
# $(BUILD)/tests/mls-vectors FILE... runs mlswg vectors (tests/mls/*.c).
# tests/mls-vectors.sh lists the files it passes. The runner gets a one-word
# wrapper, $(BUILD)/tests/mls-vectors-check, so that the build/asan
# substitution on UNIT_CMDS picks the sanitizer binary next to it.
MLSV_SRC := $(sort $(wildcard tests/mls/*.c))
MLSV_BIN := $(BUILD)/tests/mls-vectors
MLSV_CHK := $(BUILD)/tests/mls-vectors-check

$(MLSV_BIN): $(MLSV_SRC:%.c=$(BUILD)/obj/%.o) $(TESTLIB_OBJ) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(MLSV_CHK): tests/mls-vectors.sh
	@mkdir -p $(dir $@)
	$(Q)printf '#!/bin/sh\nexec tests/mls-vectors.sh "$$(dirname "$$0")/mls-vectors"\n' >$@
	$(Q)chmod +x $@

all: $(MLSV_BIN) $(MLSV_CHK)
UNIT_CMDS += $(MLSV_CHK)

# ---- interop with ts-mls -----------------------------------------------------
# $(BUILD)/tests/interop-tsmls (tests/interop/interop.c) drives
# tests/interop/tsmls_peer.mjs (node) over pipes through tests/interop/peer.c,
# a line-oriented child-process helper that benchmarks can link too
# ($(INTEROP_PEER_OBJ)). It is a unit command, so the ASan/UBSan passes run it
# as well; a missing node or ts-mls is a failure (deps-npm installs them).
# The group scenarios need proto/mls_group.c: when that file exists interop.o
# is compiled with -DEPOCHD_HAVE_MLS_GROUP; the stamp file below changes
# exactly when that choice does, so interop.o is rebuilt then.
INTEROP_BIN      := $(BUILD)/tests/interop-tsmls
INTEROP_OBJ      := $(BUILD)/obj/tests/interop/interop.o
INTEROP_PEER_OBJ := $(BUILD)/obj/tests/interop/peer.o
INTEROP_GROUP    := $(if $(wildcard proto/mls_group.c),1,0)
INTEROP_STAMP    := $(BUILD)/obj/tests/interop/have-mls-group

.PHONY: FORCE
FORCE:

$(INTEROP_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo $(INTEROP_GROUP) | cmp -s - $@ || echo $(INTEROP_GROUP) >$@

$(INTEROP_OBJ): CPPFLAGS += $(if $(filter 1,$(INTEROP_GROUP)),-DEPOCHD_HAVE_MLS_GROUP)
$(INTEROP_OBJ): $(INTEROP_STAMP)

$(INTEROP_BIN): $(INTEROP_OBJ) $(INTEROP_PEER_OBJ) $(TESTLIB_OBJ) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(INTEROP_BIN)
UNIT_CMDS += $(INTEROP_BIN)

# ---- fuzzing ---------------------------------------------------------------
# Every tests/fuzz/fuzz_<name>.c (a libFuzzer LLVMFuzzerTestOneInput) is
# built twice; a new parser only adds its file and tests/fuzz/corpus/<name>/:
#  - $(BUILD)/tests/fuzz_<name>: $(CC) with tests/fuzz/driver.c, a unit test
#    replaying tests/fuzz/corpus/<name>/ plus seeded pseudo-random inputs
#    (so also run by asan, ubsan and check);
#  - $(BUILD)/fuzz/fuzz_<name>: clang -fsanitize=fuzzer,address,undefined;
#    `make fuzz` runs each for FUZZ_SECONDS over $(BUILD)/fuzz/corpus/<name>/
#    (seeded from tests/fuzz/corpus/<name>/; crashes land in
#    $(BUILD)/fuzz/artifacts/<name>/; copy them into the seed corpus as
#    regression inputs once fixed).
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_UNIT    := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz_%)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_SECONDS ?= 60
# make check runs every libFuzzer target this long (seconds) over a fresh
# copy of its committed corpus ($(BUILD)/fuzz/smoke/<name>/).
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=c11 -g -O1 $(WARN) -fno-omit-frame-pointer $(FUZZ_SAN)
# Sources linked into every libFuzzer target, compiled once with coverage
# instrumentation (fuzzer-no-link) so libFuzzer sees their coverage; a
# target for another layer adds that layer here.
FUZZ_LINK_SRC := $(PROTO_SRC) $(XFRM_SRC) $(DAEMON_SRC)
FUZZ_LINK_OBJ := $(FUZZ_LINK_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SMOKE    := $(foreach n,$(FUZZ_NAMES),\
	'tests/fuzz/run-target.sh $(n) $(BUILD) $(FUZZ_SMOKE_SECONDS) \
	$(BUILD)/fuzz/smoke/$(n)')

UNIT_CMDS += $(FUZZ_UNIT)
all: $(FUZZ_UNIT)

$(BUILD)/tests/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o \
		$(BUILD)/obj/tests/fuzz/driver.o $(TESTLIB_OBJ) $(LIBDAEMON) \
		$(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONFIG_LIBS) $(MNL_LIBS) \
		$(LDLIBS)

$(BUILD)/fuzz/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  FCC $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
		-MMD -MP -c -o $@ $<

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LINK_OBJ) \
		$(wildcard proto/*.h xfrm/*.h daemon/*.h) | deps
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  FUZZ $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_LINK_OBJ) $(CONFIG_LIBS) $(MNL_LIBS) $(LDLIBS)

fuzz: $(FUZZ_BIN)
	$(Q)$(RUNNER) $(foreach n,$(FUZZ_NAMES),\
		'tests/fuzz/run-target.sh $(n) $(BUILD) $(FUZZ_SECONDS)')

# The smoke runs alone (make check runs them too).
.PHONY: fuzz-smoke
fuzz-smoke: $(FUZZ_BIN)
	$(Q)$(RUNNER) $(FUZZ_SMOKE)
check: $(FUZZ_BIN)

-include $(shell find $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

# ---- end-to-end ESP tests (check-e2e) ------------------------------------------
# tests/e2e/test_*.c are programs built on xfrm/ (libxfrm) that
# tests/e2e/run.sh runs in the netns/topology.sh namespaces. They need a
# kernel that can do ESP: tests/e2e/check-e2e.sh probes the running kernel
# (netns/probe-esp.sh) and runs them here, or else inside a qemu VM
# (netns/vm.sh) booting Debian's kernel; netns/vm-build.sh downloads that
# package (apt-get download) and builds build/vm/{vmlinuz,initrd.gz} once.
# Needs root. Every tests/e2e/test_*.c is built (rule next to the unit
# tests') and run by tests/e2e/run.sh with the namespace names as arguments.
E2E_SRC   := $(sort $(wildcard tests/e2e/test_*.c))
E2E_BIN   := $(E2E_SRC:tests/e2e/%.c=$(BUILD)/tests/e2e/%)
E2E_CHECK := tests/e2e/check-e2e.sh $(BUILD)
# The daemon tests (tests/e2e/test_daemon*.c) share a harness.
$(filter $(BUILD)/tests/e2e/test_daemon%,$(E2E_BIN)): \
		$(BUILD)/obj/tests/e2e/daemon_harness.o

.PHONY: check-e2e vm-assets

# The sanitizer trees build the daemon tests (and udpflow, which they
# run) only: make check runs those a second time under ASan+UBSan
# (tests/e2e/run.sh's second tree); the pure-kernel tests are not run
# there.
E2E_DAEMON_BIN := $(filter $(BUILD)/tests/e2e/test_daemon%,$(E2E_BIN))
all: $(if $(SAN),$(E2E_DAEMON_BIN) $(BUILD)/tests/e2e/udpflow,$(E2E_BIN))

# Helpers built by the same rule but not run as tests: udpflow (the traffic
# of test_rollover) and bench_xfrm (make bench-xfrm: the XFRM figures where
# ESP works, else in the VM; part of make bench when root).
# bench_daemon (make bench-daemon: the daemon figures, two epochd in the
# namespaces, here or in the VM) also links libdaemon for the control
# protocol.
E2E_AUX   := $(if $(XFRM_SRC),$(BUILD)/tests/e2e/udpflow \
                               $(BUILD)/tests/e2e/bench_xfrm \
                               $(BUILD)/tests/e2e/bench_daemon)
all: $(if $(SAN),,$(E2E_AUX))

$(BUILD)/tests/e2e/bench_daemon: $(BUILD)/obj/tests/e2e/bench_daemon.o \
		$(TESTLIB_OBJ) $(LIBDAEMON) $(LIBXFRM) $(LIBPROTO)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONFIG_LIBS) $(MNL_LIBS) \
		$(LDLIBS)

.PHONY: bench-xfrm
bench-xfrm: all
	$(Q)if netns/probe-esp.sh; then $(BUILD)/tests/e2e/bench_xfrm; \
	else netns/vm-build.sh $(BUILD)/vm >/dev/null && VM_TIMEOUT=300 \
	  netns/vm.sh $(abspath $(BUILD)/tests/e2e/bench_xfrm); fi
bench: $(if $(and $(XFRM_SRC),$(filter 0,$(shell id -u))),bench-xfrm)

# The daemon figures (tests/e2e/bench_daemon.c, docs/benchmarks.md); part
# of make bench when root and epochd exists. Without ESP here, the RSS
# figures (no SA needed) are taken here and the rest in the VM;
# BENCH_REKEY_SECONDS (default 20) is passed into it.
.PHONY: bench-daemon
bench-daemon: all
	$(Q)if netns/probe-esp.sh; then $(BUILD)/tests/e2e/bench_daemon; \
	else $(BUILD)/tests/e2e/bench_daemon rss && \
	  netns/vm-build.sh $(BUILD)/vm >/dev/null && VM_TIMEOUT=1200 \
	  VM_ENV="BENCH_REKEY_SECONDS BENCH_KEEP" \
	  netns/vm.sh $(abspath $(BUILD)/tests/e2e/bench_daemon) setup rekey; fi
bench: $(if $(and $(XFRM_SRC),$(wildcard daemon/epochd.c),\
	$(filter 0,$(shell id -u))),bench-daemon)

# The VM's kernel and initramfs (cached: a second run does nothing).
vm-assets: deps
	$(Q)netns/vm-build.sh $(BUILD)/vm

# The key erasure test's epochd (TEST_SECRETS above): $(BUILD)/keyscan/bin/
# epochd, found by test_daemon_erasure next to its own build tree.
KEYSCAN_BIN := $(BUILD)/keyscan/bin/epochd
.PHONY: keyscan
keyscan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/keyscan TEST_SECRETS=1 \
		$(KEYSCAN_BIN)

check-e2e: all keyscan
	$(Q)$(E2E_CHECK)

# check-e2e plus the daemon tests under ASan+UBSan in the same VM boot (what
# make check runs).
.PHONY: check-e2e-asan
check-e2e-asan: all keyscan
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=$(SAN_FLAGS_ASAN) tests-build
	$(Q)$(E2E_CHECK) build/asan

# make demo: two epochd, one X-Wing tunnel, a ping and a rekey, shown step
# by step (netns/demo.sh; in the VM when the kernel lacks ESP). Root.
.PHONY: demo
demo: all
	$(Q)netns/demo.sh $(BUILD)

# ---- install ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: epochd into sbin/, epochctl
# into bin/, the man pages, the systemd unit (its ExecStart follows PREFIX)
# and the example configuration. Nothing in /etc is touched.
PREFIX  ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
.PHONY: install
install: $(BUILD)/bin/epochd $(BUILD)/bin/epochctl
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/doc/epochd
	install -m 755 $(BUILD)/bin/epochd $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(BUILD)/bin/epochctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/epochd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/epochd.8 docs/epochctl.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's|/usr/sbin/epochd|$(PREFIX)/sbin/epochd|' daemon/epochd.service \
		>$(DESTDIR)$(UNITDIR)/epochd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/epochd.service
	install -m 644 daemon/epochd.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/epochd/
