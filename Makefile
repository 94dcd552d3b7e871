# The front door. `make demo` is the main job; `make test` runs every test layer.
BUILD ?= build
JOBS  ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all build deps test demo clean install deb

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Installs every Debian package the project needs (tools/debian-packages.txt). Idempotent:
# apt-get update runs once (when a listed package is missing), then only what is missing.
deps:
	@tools/install-deps

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 1 $(CTEST_ARGS)

demo: deps build
	tools/demo

# Installs romimg (bin/romimg, share/romimg, lib/romimg) under PREFIX; DESTDIR is honoured.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package, from a clean copy of the tracked files (tools/make-deb): out/romimg_*.deb.
deb: deps
	tools/make-deb out

clean:
	rm -rf $(BUILD) work out
