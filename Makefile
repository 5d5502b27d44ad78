# supermachine — one entry point: build, guest assets, test, bench, demo.
#   make            build/sm and the guest (kernel once per machine, init, initramfs)
#   make test       every suite; ends with "N passed, N failed"
#   make asan-test  the C unit tests and specs under ASan/UBSan
#   make bench      benchmarks, with ratios against peers measured in the same run
#   make bench-smoke  every benchmark once with the smallest counts (part of make test)
#   make demo       the main job (see README)
#   make deps       install build/test dependencies (Debian 12, apt-get with retries)

CC      ?= gcc
BUILD   ?= build
# Libraries the core links, by pkg-config name.
PKGS    := lua5.4 libuv libseccomp slirp
# (OCI) libraries used by src/oci/:
PKGS    += libcurl libarchive libsquashfs1 jansson libcrypto libssl
OPT     ?= -O2
# The libraries' flags are asked of pkg-config only when a compile or link
# needs them (then once), so a machine that lacks them parses this Makefile
# silently and `make test`/`make demo` reach scripts/deps.sh first.
pkgflags = $(if $(shell pkg-config --exists $(PKGS) && echo y),$(shell pkg-config $(1) $(PKGS)),$(error libraries missing (pkg-config $(PKGS)) — run: make deps))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkgflags,--cflags))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(call pkgflags,--libs))$(PKG_LIBS)
CFLAGS  += $(OPT) -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

SRCS    := $(sort $(wildcard src/*/*.c src/*/*/*.c))
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all sm guest kernel test unit unit-build spec asan-test bench bench-smoke demo deps install clean fuzz fuzz-runs soak FORCE
all: sm guest

sm: $(BUILD)/sm $(BUILD)/sm-vmm
$(BUILD)/sm: $(BUILD)/src/main.o $(BUILD)/libsm.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/libsm.a: $(filter-out $(BUILD)/src/main.o $(BUILD)/src/sm-vmm.o,$(OBJS))
	rm -f $@; ar rcs $@ $^
# the VM process on its own: only what a VMM needs, for a fast start
VMM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/vmm/*.c src/devices/*.c src/snapshot/*.c src/util/*.c src/net/*.c))
$(BUILD)/sm-vmm: $(BUILD)/src/sm-vmm.o $(VMM_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ -ljansson -lseccomp -lslirp -lpthread
$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
-include $(OBJS:.o=.d)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libsm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsm.a $(LDLIBS)

# ---- guest: kernel (cached per machine), init, uncompressed initramfs ----
guest: kernel $(BUILD)/guest/initramfs.cpio
kernel:
	@mkdir -p $(BUILD)/guest
	@guest/kernel/build.sh $(BUILD)/guest/vmlinux >/dev/null
# the agent (guest/agent/) is part of the init binary; its wire codec is shared with the host
$(BUILD)/guest/init: $(wildcard guest/init/*.c guest/init/*.h guest/agent/*.c guest/agent/*.h) src/net/agent-proto.c src/net/agent-proto.h src/net/initchan-proto.c src/net/initchan-proto.h src/net/framebuf.c src/net/framebuf.h
	@mkdir -p $(dir $@)
	musl-gcc -static -O2 -Wall -Wextra -Werror -Iguest/init -Iguest/agent -Isrc/net -o $@ $(filter %.c,$^)
# small static helpers for tests and demos, installed in the guest's /bin as sm-NAME
GUEST_TOOLS := $(patsubst guest/tools/%.c,$(BUILD)/guest/sm-%,$(wildcard guest/tools/*.c))
$(BUILD)/guest/sm-%: guest/tools/%.c
	@mkdir -p $(dir $@)
	musl-gcc -static -O2 -Wall -Wextra -Werror -Iguest/agent -o $@ $<
$(BUILD)/guest/initramfs.cpio: $(BUILD)/guest/init $(GUEST_TOOLS) guest/mkinitramfs.sh
	guest/mkinitramfs.sh $(BUILD)/guest/init $@ $(GUEST_TOOLS)

# ---- tests ----
# `make test` is the whole job on a fresh Debian 12: deps, build, every suite.
test:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all unit-build $(BENCH_BINS)
	@tests/run-all.sh
unit-build: $(TESTS)
unit: $(TESTS)
	@SM_SUITES=unit tests/run-all.sh
spec: sm
	@SM_SUITES=spec tests/run-all.sh
asan-test:
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
	        sm $(patsubst $(BUILD)/%,build-asan/%,$(TESTS))
	@SM_BUILD=build-asan SM_SUITES="unit spec" tests/run-all.sh

# ---- soak: the daemon under load (tests/load/soak.lua; a short one is in make test) ----
#   make soak                        wrk -c256 -d60s through the router to 1 worker
#   make soak SOAK_C=64 SOAK_S=10    the short version
SOAK_C ?= 256
SOAK_S ?= 60
SOAK_W ?= 1
soak: sm guest
	@$(BUILD)/sm lua tests/load/soak.lua -c $(SOAK_C) -d $(SOAK_S) -w $(SOAK_W)

# ---- fuzz: libFuzzer harnesses (tests/fuzz/, docs/fuzzing.md) ----
#   make fuzz                      every harness for FUZZ_SECONDS each, one at a time
#   make fuzz FUZZ_RUNS=1000000    every harness for exactly that many inputs instead
#   make fuzz-runs                 the same with FUZZ_RUNS=1000000 (the release figure)
#   make fuzz FUZZ_ONLY="fuzz_virtq fuzz_meta"   just those
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_LIMIT    = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc -Itests/unit $(PKG_CFLAGS)
# What each harness links: only the code it drives (no src/vmm/kvm.c: no /dev/kvm;
# tests/fuzz/fuzzvm.h stands in for the VMM log and the vCPU kick vm.c refers to).
FUZZ_VIRTIO   := src/devices/virtqueue.c src/devices/virtio-mmio.c src/vmm/bus.c src/vmm/vm.c
FUZZ_SRCS_fuzz_manifest     := $(wildcard src/oci/*.c)
FUZZ_SRCS_fuzz_layer        := $(wildcard src/oci/*.c)
FUZZ_SRCS_fuzz_virtq        := $(FUZZ_VIRTIO)
FUZZ_SRCS_fuzz_virtio_blk   := $(FUZZ_VIRTIO) src/devices/virtio-blk.c
FUZZ_SRCS_fuzz_vsock        := $(FUZZ_VIRTIO) src/devices/virtio-vsock.c src/net/evloop.c
FUZZ_SRCS_fuzz_vsock_connect := $(FUZZ_SRCS_fuzz_vsock)
FUZZ_SRCS_fuzz_agent_proto  := src/net/agent-proto.c src/net/framebuf.c
FUZZ_SRCS_fuzz_initchan     := src/vmm/initchan.c src/net/initchan-proto.c src/snapshot/state.c
FUZZ_SRCS_fuzz_state        := $(FUZZ_VIRTIO) src/devices/serial.c src/devices/virtio-rng.c \
                               src/devices/virtio-blk.c src/vmm/initchan.c src/net/initchan-proto.c \
                               src/snapshot/state.c
FUZZ_SRCS_fuzz_meta         := src/snapshot/snapshot.c src/snapshot/state.c src/util/sha256.c src/vmm/cpuid.c
FUZZ_SRCS_fuzz_http_head    := src/router/http-head.c
FUZZ_SRCS_fuzz_egress       := src/net/egress-policy.c src/net/egress-filter.c
FUZZ_SRCS_fuzz_pageops      := $(FUZZ_VIRTIO) src/devices/pageops.c
$(BUILD)/fuzz/fuzz_egress $(BUILD)/tests/test_egress_filter: tests/unit/inet-csum.h
FUZZ_ALL     := fuzz_manifest fuzz_layer fuzz_virtq fuzz_virtio_blk fuzz_vsock fuzz_vsock_connect \
                fuzz_agent_proto fuzz_initchan fuzz_state fuzz_meta fuzz_http_head fuzz_egress fuzz_pageops
FUZZ_ONLY    ?= $(FUZZ_ALL)
# Per-harness options.  fuzz_layer: libsquashfs leaks (tests/fuzz/lsan.supp) and
# builds whole images in memory (a 256 KiB layer can unpack to far more than
# libFuzzer's 2 GiB default, hence the higher RSS limit).  The device harnesses
# take structured inputs of a few KiB; longer ones only slow them down.
FUZZ_OPTS_fuzz_manifest     := -max_len=65536
FUZZ_OPTS_fuzz_layer        := -max_len=262144 -rss_limit_mb=4096
FUZZ_ENV_fuzz_layer         := LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp
FUZZ_OPTS_fuzz_virtq        := -max_len=8192
FUZZ_OPTS_fuzz_virtio_blk   := -max_len=4096
FUZZ_OPTS_fuzz_vsock        := -max_len=8192
FUZZ_OPTS_fuzz_vsock_connect := -max_len=512
FUZZ_OPTS_fuzz_agent_proto  := -max_len=16384
FUZZ_OPTS_fuzz_initchan     := -max_len=16384
FUZZ_OPTS_fuzz_state        := -max_len=32768
FUZZ_OPTS_fuzz_meta         := -max_len=8192
FUZZ_OPTS_fuzz_http_head    := -max_len=8192
FUZZ_OPTS_fuzz_egress       := -max_len=2048
FUZZ_OPTS_fuzz_pageops      := -max_len=1024
.SECONDEXPANSION:
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h tests/fuzz/fuzzvm.h $$(FUZZ_SRCS_$$*)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(PKG_LIBS) -lpthread
# The corpus starts from the committed seeds (tests/fuzz/seeds/<harness>/);
# the layer harness's seeds are the manifest seeds packed as tar and tar.gz.
$(BUILD)/fuzz/corpus-%: FORCE
	@mkdir -p $@
	@if [ -d tests/fuzz/seeds/$* ]; then cp tests/fuzz/seeds/$*/* $@/; fi
$(BUILD)/fuzz/corpus-fuzz_layer: FORCE
	@mkdir -p $@
	@tar -C tests/fuzz/seeds -cf $@/seed.tar fuzz_manifest
	@tar -C tests/fuzz/seeds -czf $@/seed.tar.gz fuzz_manifest
FORCE:
# One harness at a time (the machine runs VMs too), each ending with libFuzzer's
# "Done N runs in S second(s)"; the first failure stops the run.
fuzz: $(FUZZ_ONLY:%=$(BUILD)/fuzz/%) $(FUZZ_ONLY:%=$(BUILD)/fuzz/corpus-%)
	$(foreach h,$(FUZZ_ONLY),$(FUZZ_ENV_$(h)) $(BUILD)/fuzz/$(h) $(FUZZ_LIMIT) $(FUZZ_OPTS_$(h)) $(BUILD)/fuzz/corpus-$(h)$(newline)	)
fuzz-runs:
	@$(MAKE) --no-print-directory fuzz FUZZ_RUNS=1000000
define newline


endef

# the benchmarks' own helper programs
BENCH_BINS := $(BUILD)/bench/vsock_dev
$(BUILD)/bench/%: bench/%.c $(BUILD)/libsm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsm.a $(LDLIBS)
bench: all $(BENCH_BINS)
	@bench/run.sh
# every benchmark once with the smallest counts (also part of make test)
bench-smoke: all $(BENCH_BINS)
	@SM_SUITES=bench tests/run-all.sh

demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

deps:
	@scripts/deps.sh

# Installed layout: PREFIX/bin/sm, PREFIX/share/sm/{lua,guest} (src/util/paths.c).
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/sm/guest
	install -m 0755 $(BUILD)/sm $(BUILD)/sm-vmm $(DESTDIR)$(PREFIX)/bin/
	cp -r lua recipes $(DESTDIR)$(PREFIX)/share/sm/
	install -m 0644 $(BUILD)/guest/vmlinux $(BUILD)/guest/initramfs.cpio $(DESTDIR)$(PREFIX)/share/sm/guest/

clean:
	rm -rf $(BUILD) build-asan
