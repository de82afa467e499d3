#!/usr/bin/env bash
# The whole test suite (`make test`, run by .ci/run), or one stage of it:
#   scripts/test.sh [format|lint|unit|integration|boringssl|load|image|sanitize|fuzz]...
# Stages:
#   format       every C++ file follows .clang-format (seconds; `make format` fixes).
#   lint         clang-tidy with the checks in .clang-tidy over src/ (~3 min on 2 cores).
#   unit         Release build, GoogleTest unit tests.
#   integration  The real binary on free ports with curl, openssl s_client, Python clients.
#   boringssl    The BoringSSL build (-DSCOREGATE_TLS=boringssl, README "TLS library"): the unit
#                tests and the integration suite against it.
#   load         Attacks on the real binary, loopback only (tests/load, ~2 min): slowloris and
#                slow-body (slowhttptest, 1,000 connections) with a legitimate client measured,
#                descriptor exhaustion under a low ulimit -n, testssl.sh on the TLS listener.
#   image        `make image` (the Containerfile, podman), then the image run as a pod runs it:
#                non-root, read-only, no capabilities, kubelet-layout Secret volumes, renewal
#                and key rotation under load, SIGTERM, a CPU limit; and `podman kube play` of
#                the manifests `k8s render` writes (tests/image).
#   sanitize     ASan+UBSan build: unit tests and the integration suite against it;
#                TSan build of the multi-threaded unit tests.
#   fuzz         clang + libFuzzer build; every fuzz target runs FUZZ_SECONDS (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
PY=/usr/bin/python3   # Debian's python, where python3-pytest is installed
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(format lint unit integration boringssl load image sanitize fuzz)

scripts/deps.sh build test
[[ " ${stages[*]} " == *" boringssl "* ]] && scripts/deps.sh boringssl

# ccache across checkouts (CI builds a fresh clone): paths relative to the checkout, the
# working directory left out of the hash, and the precompiled headers cacheable (without
# these sloppiness settings ccache refuses every file compiled with the PCH, about 40 %).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime

t0=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

configure() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}
# Sanitizer and fuzz builds: -O1 builds ~40% faster than -O2 and is what sanitizers advise.
# BOOST_DISABLE_ASSERTS: Beast 1.81's chunk parser asserts that a peer sends at least 2 more
# bytes after the final chunk's "0\r\n" (basic_parser.ipp:702), which a peer need not do; the
# release build (NDEBUG) has no such assert, and the sanitizers still watch every byte.
SAN_FLAGS=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DBOOST_DISABLE_ASSERTS"
           -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1")

# One fuzz target for FUZZ_SECONDS on a copy of its corpus; a failing input is kept in
# fuzz-findings/ and fails the stage.
fuzz_one() {
  local f=$1 name corpus work found
  name=$(basename "$f"); corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d); cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -rss_limit_mb=2048 \
       -artifact_prefix="$work/" "$work" 2>&1 |
    grep -E "^(stat::number_of_executed_units|Done|==.*ERROR)" | sed "s/^/$name: /" || true
  found=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  if [ -n "$found" ]; then
    echo "fuzz target $name found a failing input (reproduce: $f <file>):"; echo "$found"
    mkdir -p fuzz-findings && cp $found fuzz-findings/
    return 1
  fi
  rm -rf "$work"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    format)
      say "format (.clang-format)"
      scripts/check-format.sh
      ;;
    lint)
      say "clang-tidy (.clang-tidy)"
      JOBS=$JOBS scripts/lint.sh
      ;;
    unit)
      say "build (release)"
      configure build
      cmake --build build -j "$JOBS" --target scoregate unit_tests
      say "unit tests"
      build/tests/unit/unit_tests --gtest_brief=1
      ;;
    integration)
      say "build (release)"
      configure build
      cmake --build build -j "$JOBS" --target scoregate
      say "integration tests"
      SCOREGATE_BIN=$PWD/build/scoregate $PY -m pytest -q -p no:cacheprovider tests/integration
      ;;
    boringssl)
      say "build (release, BoringSSL)"
      configure build-boring -DSCOREGATE_TLS=boringssl
      cmake --build build-boring -j "$JOBS" --target scoregate unit_tests
      say "unit tests (BoringSSL)"
      build-boring/tests/unit/unit_tests --gtest_brief=1
      say "integration tests against the BoringSSL binary"
      SCOREGATE_BIN=$PWD/build-boring/scoregate $PY -m pytest -q -p no:cacheprovider tests/integration
      ;;
    load)
      say "build (release)"
      configure build
      cmake --build build -j "$JOBS" --target scoregate
      say "load and attack tests"
      SCOREGATE_BIN=$PWD/build/scoregate $PY -m pytest -q -p no:cacheprovider -rxs tests/load
      ;;
    image)
      scripts/deps.sh image
      say "container image (make image)"
      scripts/image.sh
      say "image tests"
      $PY -m pytest -q -p no:cacheprovider tests/image
      ;;
    sanitize)
      say "build (ASan+UBSan)"
      configure build-asan -DSCOREGATE_SANITIZE=address "${SAN_FLAGS[@]}"
      cmake --build build-asan -j "$JOBS"
      say "unit tests under ASan+UBSan"
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/tests/unit/unit_tests --gtest_brief=1
      say "integration tests against the ASan+UBSan binary"
      # SCOREGATE_SANITIZED: RSS bounds do not hold under ASan (shadow memory, quarantine)
      ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 SCOREGATE_BIN=$PWD/build-asan/scoregate \
        SCOREGATE_SANITIZED=1 $PY -m pytest -q -p no:cacheprovider -m "not slow" tests/integration
      say "build (TSan, threaded tests only)"
      configure build-tsan -DSCOREGATE_SANITIZE=thread "${SAN_FLAGS[@]}"
      cmake --build build-tsan -j "$JOBS" --target unit_tests_threads
      say "threaded unit tests under TSan"
      TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/unit/unit_tests_threads --gtest_brief=1
      ;;
    fuzz)
      say "build (clang, libFuzzer)"
      configure build-fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DSCOREGATE_FUZZ=ON "${SAN_FLAGS[@]}"
      # only the fuzz targets and the sans-IO code they link (clang 14 cannot compile some of
      # the coroutine code under these sanitizers: "Cannot represent a difference across sections")
      cmake --build build-fuzz -j "$JOBS" --target fuzz_http_parser fuzz_settings fuzz_certificate \
        fuzz_secret_manifest fuzz_cgroup fuzz_routing fuzz_http2_session fuzz_service_manifest
      # JOBS targets at a time (each libFuzzer process is single-threaded), each in its own
      # copy of its corpus; the first failing input ends the stage.
      mapfile -t targets < <(ls build-fuzz/tests/fuzz/fuzz_*)
      for ((i = 0; i < ${#targets[@]}; i += JOBS)); do
        batch=("${targets[@]:i:JOBS}")
        say "fuzz ${batch[*]##*/} for ${FUZZ_SECONDS}s"
        for f in "${batch[@]}"; do fuzz_one "$f" & done
        failed=0
        for _ in "${batch[@]}"; do wait -n || failed=1; done
        [ $failed -eq 0 ] || exit 1
      done
      ;;
    *) echo "unknown stage $stage (format, lint, unit, integration, boringssl, load, image, sanitize, fuzz)" >&2; exit 2 ;;
  esac
done
say "all stages passed: ${stages[*]}"
