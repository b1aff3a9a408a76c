#!/usr/bin/env bash
# The surface-test benchmark (issue 5): a command that prints figures and writes a report, not a
# timed test. On a loop device (a sparse file, attached with direct I/O) behind a real OpenSSH
# server on loopback (the harness of server/tests/openssh.rs: real sshd, real badblocks, the
# simulator as the TrueNAS API), it measures
#   (a) the surface stage through the product (interlock probes over SSH, badblocks detached
#       with setsid, its logs read by offset) against bare `badblocks -wsv -b 4096 -c C` on the
#       same device; target ≤ 1.03×;
#   (b) badblocks' throughput against dd with oflag=direct / iflag=direct at the same I/O size;
#       target ≥ 90 %;
#   (c) a sweep of -c (blocks at once), to justify the product's --blocks-at-once (0: 4 MiB per
#       transfer, -c 1024 at -b 4096).
# It prints a table and writes reports/bench-surface.txt.
#
# Usage: sudo scripts/bench-surface.sh        (as root: it attaches a loop device and logs in
#   as root over SSH; needs /usr/sbin/sshd, `scripts/setup.sh --with-test-tools` installs it)
#   Builds the example `bench_surface` of the server crate (dev profile, the flags
#   scripts/test.sh uses, so the artifacts are shared) and runs it. With the defaults it takes
#   about five minutes after the build on two cores. Settings, all optional:
#     BENCH_SIZE_MIB=1024              the loop device's size
#     BENCH_BLOCKS_AT_ONCE=1024        -c for (a) and (b), and the product's --blocks-at-once
#     BENCH_SWEEP=64,256,1024,4096     the -c values of (c)
#     BENCH_REPEAT=3                   runs of each measurement (the median is reported)
#     BENCH_DIRECT_IO=on               off: the loop device goes through the page cache
#     BENCH_POLL_MS=5000               the product's --stage-poll-ms (its default)
#     BENCH_REPORT=reports/bench-surface.txt
#     BENCH_NO_BUILD=1                 use the example already built
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '\033[1;34m[bench]\033[0m %s\n' "$*"; }

if [[ "$(id -u)" != 0 ]]; then
  echo "bench-surface.sh: run it as root (loop devices, root login over SSH)" >&2
  exit 1
fi
if [[ ! -x /usr/sbin/sshd ]]; then
  echo "bench-surface.sh: /usr/sbin/sshd is missing: run scripts/setup.sh --with-test-tools" >&2
  exit 1
fi

share_build_env
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  say "building the benchmark (example bench_surface of burnin-server)"
  cargo build --locked -p burnin-server --example bench_surface
fi
say "running; this attaches a loop device and starts sshd on a free loopback port"
exec target/debug/examples/bench_surface
