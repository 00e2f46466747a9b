#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs the libFuzzer targets of procshared.
#
#   fuzz/run.sh [--merge] [--keep-going] TARGET|all [SECONDS]
#                                                fuzz for SECONDS (default 600) each
#   fuzz/run.sh --replay [TARGET|all]            run the committed corpus once
#   fuzz/run.sh --seeds                          rewrite the generated seeds
#
# TARGET is fuzz-read-variant, fuzz-attach, fuzz-open-named,
# fuzz-attach-rw-lock, fuzz-attach-rendezvous, fuzz-new-from-fd or
# fuzz-attach-queue ("all" runs them one after the other). The build
# directory ($PS_FUZZ_BUILDDIR, default _build-fuzz) is set up with clang and ASan+UBSan if missing.
# Fuzzing starts from the committed corpus (fuzz/corpus/TARGET) but
# writes new inputs to a scratch corpus in the build directory; --merge
# then adds those that reach new coverage to the committed corpus. A crash
# leaves its input in BUILDDIR/fuzz-artifacts/TARGET/: copy it into the
# committed corpus so the replay keeps checking it. A run stops at its
# first crash or hang, unless --keep-going (libFuzzer's fork mode, which
# sets each one aside and goes on). To search past findings reported but
# not fixed yet, set PS_FUZZ_AVOID_KNOWN=1 (see fuzz-common.h); the replay
# never does.
set -eu

cd "$(dirname "$0")/.."
source_root=$(pwd)
build=${PS_FUZZ_BUILDDIR:-_build-fuzz}
all_targets=(fuzz-read-variant fuzz-attach fuzz-open-named fuzz-attach-rw-lock fuzz-attach-rendezvous
             fuzz-new-from-fd fuzz-attach-queue)

merge=0
keep_going=()
mode=fuzz
while [ $# -gt 0 ]; do
  case "$1" in
    --merge) merge=1; shift ;;
    --keep-going) keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1); shift ;;
    --replay) mode=replay; shift ;;
    --seeds) mode=seeds; shift ;;
    -h|--help) sed -n '4,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "Unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
target=${1:-all}
seconds=${2:-600}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dintrospection=disabled -Dvapi=disabled -Ddocs=disabled \
    -Dexamples=false -Dtests=false
fi
ninja -C "$build" fuzz/fuzz-read-variant fuzz/fuzz-attach fuzz/fuzz-open-named fuzz/fuzz-attach-rw-lock \
  fuzz/fuzz-attach-rendezvous fuzz/fuzz-new-from-fd fuzz/fuzz-attach-queue fuzz/fuzz-make-seeds

# A finding must stop the run with a report, and leaks count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export G_DEBUG=fatal-criticals

if [ "$mode" = seeds ]; then
  exec "$build/fuzz/fuzz-make-seeds" "$source_root/fuzz/corpus"
fi

if [ "$target" = all ]; then
  targets=("${all_targets[@]}")
else
  case " ${all_targets[*]} " in
    *" $target "*) targets=("$target") ;;
    *) echo "Unknown target $target (one of: ${all_targets[*]}, all)" >&2; exit 2 ;;
  esac
fi

# Inputs large enough for every field each target reads, and no larger:
# longer inputs only slow the search down.
max_len () {
  case "$1" in
    fuzz-read-variant) echo 4096 ;;
    fuzz-attach) echo 257 ;;
    fuzz-open-named) echo 1024 ;;
    fuzz-new-from-fd) echo 1024 ;;
    fuzz-attach-queue) echo 512 ;;
  esac
}

# fuzz-open-named writes /dev/shm/ps-fuzz-open-named-PID; a crashed run
# leaves its file behind. Remove those whose process is gone.
clean_shm () {
  local file pid
  for file in /dev/shm/ps-fuzz-open-named-*; do
    [ -e "$file" ] || continue
    pid=${file##*-}
    kill -0 "$pid" 2>/dev/null || rm -f "$file"
  done
}

status=0
for t in "${targets[@]}"; do
  corpus="$source_root/fuzz/corpus/$t"
  artifacts="$build/fuzz-artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"

  if [ "$mode" = replay ]; then
    echo "::: $t: replaying $(ls "$corpus" | wc -l) inputs"
    "$build/fuzz/$t" -runs=0 -timeout=25 -error_exitcode=1 -timeout_exitcode=1 \
      -artifact_prefix="$artifacts" "$corpus" || status=1
    clean_shm
    continue
  fi

  work="$build/fuzz-work/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$work" "$(dirname "$log")"
  echo "::: $t: fuzzing for $seconds s (log: $log)"
  # -jobs is not used: one process per target (the machine is shared);
  # run two targets at once from two shells if there are cores to spare.
  # In fork mode (--keep-going) the exit status says little: what was
  # set aside in the artifacts directory tells.
  if "$build/fuzz/$t" "$work" "$corpus" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len="$(max_len "$t")" -artifact_prefix="$artifacts" \
       -print_final_stats=1 ${keep_going[@]+"${keep_going[@]}"} >"$log" 2>&1 ||
     [ ${#keep_going[@]} -gt 0 ]; then
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" || true
    grep -E '^#[0-9]+:? .*cov: ' "$log" | tail -n 1 || true
    if [ ${#keep_going[@]} -gt 0 ] && [ -n "$(ls -A "$artifacts")" ]; then
      status=1
      echo "::: $t: findings set aside in $artifacts:"
      ls "$artifacts"
    fi
  else
    status=1
    echo "::: $t: FINDING, see $log; inputs in $artifacts"
    grep -E 'ERROR|FINDING|SUMMARY|Test unit written|Bail out' "$log" | head -n 20 || true
  fi
  clean_shm

  if [ "$merge" = 1 ]; then
    # Adds to the committed corpus only inputs with new coverage.
    "$build/fuzz/$t" -merge=1 -timeout=25 -max_len="$(max_len "$t")" \
      "$corpus" "$work" >"$build/fuzz-logs/$t.merge.log" 2>&1 || status=1
    echo "::: $t: corpus now $(ls "$corpus" | wc -l) inputs"
  fi
done
exit $status
