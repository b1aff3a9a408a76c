#!/usr/bin/env bash
# The statistics benchmark: a command that prints figures and writes a report, not a timed test.
# The statistics page aggregates the whole record; the goal is a page in under 200 ms with
# 100,000 jobs in the database. This makes a database of that size through the server's own
# migrations (jobs with their stages and verdicts as the engine leaves them, over a year and
# a dozen models), starts the server on it, and times the statistics answer through the API
# and the whole server-rendered page, each repeated, unfiltered and filtered by host and dates.
#
# Usage: scripts/bench-stats.sh
#   Builds the release server (scripts/build.sh --server-only), then measures. Prints a table
#   and writes reports/bench-stats.txt. Settings, all optional:
#     BENCH_JOBS=100000          jobs in the database
#     BENCH_REPEAT=20            timed requests of each kind (after one untimed warm-up)
#     BENCH_SERVER_BIN=target/release/burnin-server
#     BENCH_REPORT_DIR=reports
#     BENCH_NO_BUILD=1           use the binary already built
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '\033[1;34m[bench]\033[0m %s\n' "$*"; }

jobs=${BENCH_JOBS:-100000}
repeat=${BENCH_REPEAT:-20}
server_bin=${BENCH_SERVER_BIN:-target/release/burnin-server}
report_dir=${BENCH_REPORT_DIR:-reports}

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
  scripts/build.sh --server-only
fi
[[ -x "$server_bin" ]] || { echo "bench-stats.sh: $server_bin is missing: build it, or unset BENCH_NO_BUILD" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

db="sqlite://$work/burnin.db"
export BURNIN_DATABASE_URL="$db"
"$server_bin" migrate >/dev/null 2>&1
say "seeding $jobs jobs"
seed_started=$(date +%s.%N)
python3 - "$work/burnin.db" "$jobs" <<'PY'
import json, random, sqlite3, sys, time

path, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261207)
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")
MODELS = [
    ("ST8000VN004-3CP101", 8_001_563_222_016), ("ST12000NM0008-2H3101", 12_000_138_625_024),
    ("ST16000NM001G-2KK103", 16_000_900_661_248), ("ST4000VN008-2DR166", 4_000_787_030_016),
    ("WDC WD80EFAX-68KNBN0", 8_001_563_222_016), ("WDC WD120EFBX-68B0EN0", 12_000_138_625_024),
    ("WDC WUH721816ALE6L4", 16_000_900_661_248), ("WDC WD40EFRX-68N32N0", 4_000_787_030_016),
    ("TOSHIBA MG06ACA10TE", 10_000_831_348_736), ("TOSHIBA MG09ACA18TE", 18_000_207_937_536),
    ("HGST HUH721212ALE604", 12_000_138_625_024), ("Samsung SSD 870 EVO 2TB", 2_000_398_934_016),
    ("CT2000MX500SSD1", 2_000_398_934_016), ("ST24000NM002H-3KS133", 24_000_277_250_048),
]
HOSTS = 8
for h in range(1, HOSTS + 1):
    db.execute("INSERT INTO hosts (id, name) VALUES (?, ?)", (h, f"nas{h}"))
drives = []
for d in range(1, max(total // 20, 50) + 1):
    model, size = MODELS[d % len(MODELS)]
    host = 1 + d % HOSTS
    kind = "SSD" if "SSD" in model or "MX500" in model else "HDD"
    db.execute(
        "INSERT INTO drives (id, host_id, serial, devname, model, size_bytes, kind, pool_kind) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'free')",
        (d, host, f"BENCH{d:07d}", f"sd{d % 26 + 1}", model, size, kind),
    )
    # One drive in fifty is slow against its peers: a weak head, a bad port.
    drives.append((d, host, size, 0.8 if d % 50 == 0 else 1.0))

def stamp(secs):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".000Z"

now = int(time.time())
job_rows, stage_rows = [], []
for j in range(1, total + 1):
    drive, host, size, pace = drives[rng.randrange(len(drives))]
    roll = rng.random()
    state, outcome = ("passed", "pass") if roll < 0.86 else ("passed", "warn") if roll < 0.91 \
        else ("failed", "fail") if roll < 0.97 else ("cancelled", None)
    hours = size / 1e12 * 5.5 * rng.uniform(0.9, 1.2) if outcome else rng.uniform(0.1, 4)
    finished = now - rng.randrange(0, 365 * 86_400)
    started = finished - int(hours * 3600)
    bad = 0
    reasons = [{"level": "info", "rule": "smart.health", "text": "SMART passed", "evidence": "smartctl"}]
    realloc = (0, 0)
    if outcome == "fail":
        rule = rng.choice(["surface.bad_blocks", "ata.5.delta", "temperature.max", "selftest.failed"])
        reasons.append({"level": "fail", "rule": rule, "text": "seeded", "evidence": "bench"})
        if rule == "surface.bad_blocks":
            bad = rng.choice([1, 3, 24, 150, 2048])
        if rule == "ata.5.delta":
            realloc = (0, rng.choice([8, 24, 300]))
    elif outcome == "warn":
        reasons.append({"level": "warn", "rule": "ata.199.delta", "text": "seeded", "evidence": "bench"})
        realloc = (2, 2)
    verdict = None
    if outcome:
        deltas = [
            {"name": "Reallocated sectors (5)", "before": realloc[0], "after": realloc[1]},
            {"name": "Current pending sectors (197)", "before": 0, "after": 0},
            {"name": "UDMA CRC errors (199)", "before": 0, "after": 0},
        ]
        verdict = json.dumps({"outcome": outcome, "reasons": reasons, "deltas": deltas,
                              "max_temperature_c": round(rng.uniform(32, 48), 1)})
    # The outcome, the reallocation rise, the run's seconds and the failing rules beside the
    # verdict, as the engine writes them.
    rise = realloc[1] - realloc[0] if outcome else None
    fail_rules = ",".join(r["rule"] for r in reasons if r["level"] == "fail") or None if outcome else None
    surface = "failed" if bad else ("passed" if outcome else "cancelled")
    mb_s = round(rng.gauss(150 + size / 1e12 * 8, 4) * pace, 1) if surface == "passed" else None
    job_rows.append((j, drive, host, state, "bench", stamp(started), stamp(started), stamp(finished),
                     verdict, bad, outcome, rise, surface, bad, mb_s, finished - started, fail_rules))
    for position, kind, st in ((0, "precheck", "passed"), (1, "surface", surface), (2, "final_check", "passed" if outcome else "skipped")):
        stage_rows.append((j, position, kind, st, bad if kind == "surface" else 0, mb_s if kind == "surface" else None))
db.executemany(
    "INSERT INTO jobs (id, drive_id, host_id, state, operator, created_at, started_at, finished_at, verdict_json, "
    "bad_blocks, outcome, reallocated_rise, surface_state, surface_bad_blocks, surface_mb_s, run_seconds, fail_rules) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", job_rows)
db.executemany("INSERT INTO job_stages (job_id, position, kind, state, bad_blocks, throughput_mb_s) VALUES (?, ?, ?, ?, ?, ?)", stage_rows)
# Every job sealed, as on a server that sealed each job as it ended: otherwise the sealer
# would spend the benchmark catching up on 100,000 jobs (placeholders: nothing reads them).
db.execute("INSERT INTO job_evidence (job_id, manifest_json, signature, sha256, parts_json) "
           "SELECT id, '{}', 'bench', printf('%064d', id), '{}' FROM jobs")
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
PY
seed_secs=$(awk -v a="$seed_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
size_mib=$(( $(stat -c %s "$work/burnin.db") / 1048576 ))
say "seeded in ${seed_secs}s: database ${size_mib} MiB"

BURNIN_PASSWORD=figures-only-7Q2x "$server_bin" user add bench --role viewer >/dev/null 2>&1
token=$("$server_bin" token create --user bench --scope read --name bench 2>/dev/null)

MALLOC_ARENA_MAX=2 "$server_bin" --listen 127.0.0.1:0 --simulator never --environment production \
  >"$work/server.log" 2>&1 &
pid=$!
base=$(wait_serving "$work/server.log" "$pid") || exit 1

# One row per kind of request: median, p95 and worst of BENCH_REPEAT timed runs, in ms.
time_it() {
  local label=$1 path=$2 i t
  curl -fs -o /dev/null -H "Authorization: Bearer $token" "$base$path" \
    || { echo "bench-stats.sh: $path failed" >&2; exit 1; }
  for i in $(seq 1 "$repeat"); do
    t=$(curl -fs -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base$path")
    echo "$t"
  done | sort -n | awk -v label="$label" -v path="$path" '
    { v[NR] = $1 * 1000 }
    END {
      p50 = v[int((NR + 1) / 2)]; i95 = int(NR * 0.95 + 0.999); if (i95 > NR) i95 = NR
      printf "%-34s p50 %7.1f ms   p95 %7.1f ms   max %7.1f ms   (%s)\n", label, p50, v[i95], v[NR], path
    }'
}

from=$(date -u -d '-90 days' +%F)
to=$(date -u -d '-30 days' +%F)
mkdir -p "$report_dir"
{
  echo "statistics with $jobs jobs ($(( jobs * 3 )) stages, $(( jobs / 20 > 50 ? jobs / 20 : 50 )) drives, 8 hosts; database ${size_mib} MiB), $repeat runs each:"
  time_it "API, every job" "/api/v1/stats"
  time_it "API, one host and 60 days" "/api/v1/stats?host_id=3&from=$from&to=$to"
  time_it "page (server-rendered), every job" "/stats"
  time_it "page, one host and 60 days" "/stats?host_id=3&from=$from&to=$to"
  echo "target: the page under 200 ms at 100,000 jobs"
} | tee "$report_dir/bench-stats.txt"
