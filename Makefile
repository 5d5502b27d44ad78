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
PKGS    := lua5.4 libuv libseccomp
# (OCI) libraries used by src/oci/:
PKGS    += libcurl libarchive libsquashfs1 jansson libcrypto
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

.PHONY: all sm guest kernel test unit unit-build spec asan-test bench bench-smoke demo deps install clean fuzz
all: sm guest

sm: $(BUILD)/sm $(BUILD)/sm-vmm
$(BUILD)/sm: $(BUILD)/src/main.o $(BUILD)/libsm.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/libsm.a: $(filter-out $(BUILD)/src/main.o $(BUILD)/src/sm-vmm.o,$(OBJS))
	rm -f $@; ar rcs $@ $^
# the VM process on its own: only what a VMM needs, for a fast start
VMM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/vmm/*.c src/devices/*.c src/snapshot/*.c src/util/*.c src/net/*.c))
$(BUILD)/sm-vmm: $(BUILD)/src/sm-vmm.o $(VMM_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ -ljansson -lseccomp -lpthread
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
# small static helpers for tests and demos, installed in the guest's /bin
$(BUILD)/guest/sm-counter: guest/tools/counter.c
	@mkdir -p $(dir $@)
	musl-gcc -static -O2 -Wall -Wextra -Werror -o $@ $<
$(BUILD)/guest/initramfs.cpio: $(BUILD)/guest/init $(BUILD)/guest/sm-counter guest/mkinitramfs.sh
	guest/mkinitramfs.sh $(BUILD)/guest/init $@ $(BUILD)/guest/sm-counter

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

# ---- fuzz: libFuzzer harnesses over src/oci, FUZZ_SECONDS each ----
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := $(wildcard src/oci/*.c)
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(PKG_LIBS) -lpthread
fuzz: $(BUILD)/fuzz/fuzz_manifest $(BUILD)/fuzz/fuzz_layer
	@mkdir -p $(BUILD)/fuzz/corpus-manifest $(BUILD)/fuzz/corpus-layer
	@cp tests/fuzz/seeds/* $(BUILD)/fuzz/corpus-manifest/
	@tar -C tests/fuzz -cf $(BUILD)/fuzz/corpus-layer/seed.tar seeds
	@tar -C tests/fuzz -czf $(BUILD)/fuzz/corpus-layer/seed.tar.gz seeds
	$(BUILD)/fuzz/fuzz_manifest -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(BUILD)/fuzz/corpus-manifest
	LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp \
	$(BUILD)/fuzz/fuzz_layer -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -rss_limit_mb=4096 $(BUILD)/fuzz/corpus-layer

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
	cp -r lua $(DESTDIR)$(PREFIX)/share/sm/
	install -m 0644 $(BUILD)/guest/vmlinux $(BUILD)/guest/initramfs.cpio $(DESTDIR)$(PREFIX)/share/sm/guest/

clean:
	rm -rf $(BUILD) build-asan
