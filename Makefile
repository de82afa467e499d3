# scoregate: `make run` (development mode in one minute) and `make test` (the whole suite).
# Both install missing Debian packages first (scripts/deps.sh), then build with CMake + Ninja.

# TLS=boringssl builds on BoringSSL instead of OpenSSL 3, in build-boring (README "TLS library");
# IO=io_uring on Asio's io_uring backend instead of epoll, in build-uring (README "I/O backend")
TLS ?= openssl
IO ?= epoll
ifeq ($(TLS),boringssl)
BUILD ?= build-boring
else ifeq ($(IO),io_uring)
BUILD ?= build-uring
else
BUILD ?= build
endif
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps build run test lint unit integration boringssl load image-test sanitize fuzz bench clean format image

all: build

deps:
	@scripts/deps.sh build $(if $(filter boringssl,$(TLS)),boringssl) $(if $(filter io_uring,$(IO)),io_uring)

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCOREGATE_TLS=$(TLS) -DSCOREGATE_IO=$(IO) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target scoregate

# Development mode: a local development CA and certificate for localhost, a built-in sample
# model and a printed curl line. Extra flags: make run ARGS='--listen 127.0.0.1:9443'
run: build
	@$(BUILD)/scoregate serve $(ARGS)

test:
	@scripts/test.sh

# Pieces of `make test`, for working on one part.
lint:
	@scripts/test.sh format lint
unit:
	@scripts/test.sh unit
integration:
	@scripts/test.sh integration
boringssl:
	@scripts/test.sh boringssl
load:
	@scripts/test.sh load
image-test:
	@scripts/test.sh image
sanitize:
	@scripts/test.sh sanitize
fuzz:
	@scripts/test.sh fuzz

# The container image localhost/scoregate:VERSION (README "Container image"): podman or docker;
# without a registry the Debian bookworm base is built here with debootstrap.
# Variables: IMAGE=..., BASE_IMAGE=..., ENGINE=podman|docker, IMAGE_SOURCE=<repository URL>.
image:
	@scripts/deps.sh image
	@TLS=$(TLS) scripts/image.sh

bench: build
	@scripts/deps.sh bench
	@SCOREGATE_BIN=$${SCOREGATE_BIN:-$(CURDIR)/$(BUILD)/scoregate} bench/run.sh

clean:
	rm -rf build build-boring build-asan build-tsan build-fuzz build-tidy

format:
	@clang-format-14 -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')
