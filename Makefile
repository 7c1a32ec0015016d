# drip: cold-email campaigns from the shell, on PostgreSQL and Microsoft Graph.
# A plain GNU Makefile. Objects and binaries go to $(O) (default build/), so a
# sanitizer build can live beside the normal one: make O=build-san SANITIZE=address,undefined

VERSION = 0.1.0

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/drip
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
O ?= build

# The tools. Adding one: see "Adding a tool" in README.md.
TOOLS = db-migrate campaign-create campaign-show campaign-update template-add \
	prospect-import suppress outlook-auth send-due inbox-sync events

PKGS = libpq libcurl json-c libbsd-overlay libcrypto
# Recursive (=) on purpose: pkg-config runs when a recipe needs it, that is
# after "make deps" has installed the libraries on a fresh machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Wshadow -Wformat=2 -Wformat-security -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
	-Wvla -Wwrite-strings -Wcast-align -Wundef -Wno-unused-parameter \
	-Wno-missing-field-initializers
ifdef DEVELOPER
WARNINGS += -Werror -Wmissing-declarations -Wnull-dereference -Wdouble-promotion \
	-Wimplicit-fallthrough
endif
# Users may add to CFLAGS but cannot take the warnings away.
override CFLAGS := -std=c11 -D_GNU_SOURCE \
	$(WARNINGS) $(CFLAGS) -DDRIP_VERSION='"$(VERSION)"' -Ilib -I$(O)
ifdef SANITIZE
override CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

# V=1 shows the full commands.
ifndef V
QUIET_CC   = @echo '   CC   $@';
QUIET_LINK = @echo '   LINK $@';
QUIET_AR   = @echo '   AR   $@';
endif

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(O)/%.o) $(O)/migrations.o
MIGRATIONS = $(sort $(wildcard lib/migrations/*.sql))
CMD_COMMON = $(O)/cmd/common.o
BINS = $(TOOLS:%=$(O)/bin/%)
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNITS = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
MAN1 = $(TOOLS:%=man/%.1)
MAN5 = $(wildcard man/*.5)
MAN7 = man/drip.7

all: $(BINS)

$(O)/lib/libdrip.a: $(LIB_OBJ)
	$(QUIET_AR)$(AR) rcs $@ $^

$(O)/lib/%.o: lib/%.c lib/*.h | $(O)/lib
	$(QUIET_CC)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(O)/cmd/%.o: cmd/%.c cmd/common.h lib/*.h | $(O)/cmd
	$(QUIET_CC)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(O)/migrations.c: lib/mkmigrations.sh $(MIGRATIONS) | $(O)/lib
	sh lib/mkmigrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@
$(O)/migrations.o: $(O)/migrations.c lib/*.h
	$(QUIET_CC)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(O)/bin/%: $(O)/cmd/%.o $(CMD_COMMON) $(O)/lib/libdrip.a | $(O)/bin
	$(QUIET_LINK)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(O)/tests/test-%: tests/unit/test-%.c tests/unit/tap.h $(O)/lib/libdrip.a | $(O)/tests
	$(QUIET_LINK)$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(O)/lib/libdrip.a $(PKG_LIBS) $(LDLIBS)

$(O)/lib $(O)/cmd $(O)/tests $(O)/bin:
	mkdir -p $@

units: $(UNITS)

deps:
	@sh tests/deps.sh

# VALGRIND=1 runs every tool under valgrind; T=tests/t0100-foo.t picks tests.
check: deps all units
	@O=$(O) VALGRIND=$(VALGRIND) sh tests/run $(T)

# Fuzzing (clang, libFuzzer): tests/fuzz/README.md. fuzz runs each harness
# FUZZ_SECONDS; fuzz-ci replays the seed corpora and runs each for 10 s.
FUZZ_SECONDS ?= 60
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run
fuzz-ci: deps
	@sh tests/fuzz/run --ci

# Benchmarks: minutes long, not part of check; see tests/bench/README.md.
bench: all
	@for b in tests/bench/bench-*.sh; do O=$(O) bash $$b || exit 1; done

demo: deps all
	@O=$(O) sh examples/demo.sh

demo-stop:
	@sh examples/demo.sh stop

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	$(if $(MAN5),install -d $(DESTDIR)$(MANDIR)/man5 && install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5)
	for t in $(TOOLS); do \
		install -m 644 completions/bash/$$t $(DESTDIR)$(BASHCOMPDIR)/$$t || exit 1; \
		install -m 644 completions/zsh/_$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t || exit 1; \
		install -m 644 completions/fish/$$t.fish $(DESTDIR)$(FISHCOMPDIR)/$$t.fish || exit 1; \
	done
	if [ -d examples/systemd ]; then install -d $(DESTDIR)$(DOCDIR)/examples/systemd && \
		install -m 644 examples/systemd/* $(DESTDIR)$(DOCDIR)/examples/systemd; fi

uninstall:
	for t in $(TOOLS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 \
		      $(DESTDIR)$(BASHCOMPDIR)/$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t \
		      $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man7/drip.7 $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%)
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(O)

print-tools:
	@echo $(TOOLS)

.PHONY: all units deps check fuzz fuzz-ci bench demo demo-stop install uninstall clean print-tools
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:
