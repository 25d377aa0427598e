#!/usr/bin/env bash
# Tidegate HTTP benchmark: /healthz versus an authenticated /v1/status, measured with wrk.
#
# Usage (from anywhere; the script finds the repository root itself):
#   tests/bench/run.sh                 # small store: one account, one key
#   tests/bench/run.sh --keys 1000000  # same, after `tidegate bench-seed` stored N extra keys
#   tests/bench/run.sh --compare       # small store, then 1,000,000 keys (or --keys N), and the
#                                      # ratio of the two /v1/status req/s figures
#   tests/bench/run.sh --backend postgres
#                                      # /v1/status on SQLite, on one PostgreSQL node and on two
#                                      # PostgreSQL nodes, in one run, and how long a revocation
#                                      # through one node takes to reach the other
#
# Environment:
#   BENCH_DURATION        wrk duration of each measured run (default 10s)
#   BENCH_WARMUP          wrk duration of each warm-up run (default 2s; "0" skips warm-up)
#   BENCH_START_TIMEOUT   seconds to wait for the server to answer /healthz (default 120)
#   BENCH_NO_BUILD=1      skip `cargo build --release` and use the existing target/release/tidegate
#   BENCH_BIN=PATH        measure this binary instead (no build): another build, side by side
#   BENCH_GEN_CLIENTS     concurrent clients of the generation benchmark (default 32)
#   BENCH_GEN_SECONDS     how long the concurrent generation run lasts (default 10)
#   BENCH_FIXED_RATE      requests per second of the fixed-rate runs (default 4000)
#   BENCH_FIXED_DURATION  duration of each fixed-rate run (default 8s)
#   BENCH_POSTGRES_URL    --backend postgres: a server where the database tidegate_bench may be
#                         dropped and created (default postgres://postgres@127.0.0.1:5432/postgres)
#
# What it does: installs wrk (and curl/python3) with apt-get if missing, runs
# `cargo build --release`, creates an account and a Full Access key with the CLI in a fresh
# temporary data directory, starts `tidegate serve` on a free loopback port, runs
# `wrk -t2 -c64 -d$BENCH_DURATION --latency` against both endpoints and prints req/s, p50, p99,
# the targets and the server's peak resident memory (VmHWM). On the small store it then runs
# tests/bench/generations.py: submit -> succeeded latency of local image generations (p50 target
# <= 200 ms) and generations per second with 32 concurrent clients; and tests/bench/webhooks.py:
# webhook deliveries per second to a fast local receiver (target >= 1,000) and the latency from
# the commit of a generation's success to its generation.completed arriving (p50 target <= 50 ms).
# Beside the saturated wrk figures it prints the server's CPU time per request (utime + stime of
# the server process over the same wrk runs, divided by their requests) and, with hey, p50 and p99
# of both endpoints at a fixed $BENCH_FIXED_RATE req/s over 16 connections: what the key check and
# the log add at moderate load. The data directory is removed and the server stopped on exit.
#
# Exit status: 0 when the measurement completed, even if a target was missed (marked MISSED);
# non-zero when the benchmark itself failed (build error, server not starting, /v1/status not
# answering 200, wrk reporting non-2xx responses, ...).

set -euo pipefail
export LC_ALL=C  # decimal points in printf/awk, whatever the user's locale

# --- options -------------------------------------------------------------------------------------

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
START_TIMEOUT="${BENCH_START_TIMEOUT:-120}"
THREADS=2
CONNECTIONS=64
COMPARE_KEYS=1000000
GEN_CLIENTS="${BENCH_GEN_CLIENTS:-32}"
GEN_SECONDS="${BENCH_GEN_SECONDS:-10}"
FIXED_RATE="${BENCH_FIXED_RATE:-4000}"      # requests per second of the fixed-rate run (hey)
FIXED_CONNECTIONS=16
FIXED_DURATION="${BENCH_FIXED_DURATION:-8s}"

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
    echo "bench: error: $*" >&2
    exit 1
}

log() {
    echo "bench: $*" >&2
}

keys=0
keys_given=false
compare=false
backend=sqlite
while (($#)); do
    case "$1" in
        --keys)
            [[ $# -ge 2 ]] || die "--keys needs a number, e.g. --keys 1000000"
            keys="$2"
            keys_given=true
            shift 2
            ;;
        --keys=*)
            keys="${1#--keys=}"
            keys_given=true
            shift
            ;;
        --compare)
            compare=true
            shift
            ;;
        --backend)
            [[ $# -ge 2 ]] || die "--backend needs sqlite or postgres"
            backend="$2"
            shift 2
            ;;
        --backend=*)
            backend="${1#--backend=}"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown argument: $1"
            ;;
    esac
done
[[ "$keys" =~ ^[0-9]+$ ]] || die "--keys expects a non-negative integer, got '$keys'"
[[ "$backend" == sqlite || "$backend" == postgres ]] || die "--backend is sqlite or postgres, not '$backend'"
if $compare; then
    $keys_given || keys=$COMPARE_KEYS
    ((keys > 0)) || die "--compare needs a key count above 0"
fi

# --- prerequisites -------------------------------------------------------------------------------

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
[[ -f "$repo_root/Cargo.toml" ]] || die "no Cargo.toml in $repo_root (expected the repository root)"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v hey >/dev/null 2>&1 || missing+=(hey)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    if [[ "$(id -u)" -eq 0 ]]; then
        sudo=()
    else
        command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; install ${missing[*]} by hand"
        sudo=(sudo)
    fi
    # apt-get's chatter goes to stderr so that stdout carries only the report.
    "${sudo[@]}" apt-get update >&2 || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed"
    for tool in "${missing[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is still not on PATH after apt-get install"
    done
fi
bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-$repo_root/target}/release/tidegate}"
if [[ -n "${BENCH_BIN:-}" ]]; then
    log "BENCH_BIN: measuring $bin without building"
elif [[ "${BENCH_NO_BUILD:-0}" == 1 ]]; then
    log "BENCH_NO_BUILD=1: using the existing $bin without building"
else
    command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) first"
    log "building: cargo build --release (in $repo_root)"
    (cd "$repo_root" && cargo build --release) || die "cargo build --release failed"
fi
[[ -x "$bin" ]] || die "binary not found at $bin (run without BENCH_NO_BUILD=1 to build it)"
log "binary: $bin (modified $(date -r "$bin" '+%Y-%m-%d %H:%M:%S'))"

# --- temporary state and cleanup -----------------------------------------------------------------

work="$(mktemp -d -t tidegate-bench.XXXXXX)"
server_pid=""

node_pids=()

cleanup() {
    local status=$?
    for pid in "${node_pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# RUST_LOG would override TIDEGATE_TELEMETRY__LEVEL; keep logging quiet and comparable.
unset RUST_LOG
export TIDEGATE_TELEMETRY__LEVEL=warn
export TIDEGATE_ADMIN_PASSWORD=bench-password
# Port 0: the server picks a free port and prints it ("Tidegate listening on http://ADDR").
export TIDEGATE_SERVER__LISTEN=127.0.0.1:0
# The per-component distributions come from /metrics.
export TIDEGATE_SERVER__METRICS=true

# --- helpers -------------------------------------------------------------------------------------

json_field() { # json_field FIELD  (JSON object on stdin)
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wrk prints latencies as e.g. 812.00us, 1.10ms, 2.03s, 1.50m; convert to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (f < 0 || n == "") { print "?"; exit 1 }
        printf "%.2f", n * f
    }'
}

# Runs wrk; prints its output on stdout. Args: url [extra wrk args...]
run_wrk() {
    local url="$1" duration="$2"
    shift 2
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "$@" "$url"
}

# Parses wrk output in $1 into the globals r_rps r_p50 r_p99 r_non2xx r_sockerr.
parse_wrk() {
    local out="$1" p50 p99
    r_rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    p50="$(awk '$1 == "50%" { print $2; exit }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2; exit }' <<<"$out")"
    r_non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
    r_sockerr="$(grep -E '^[[:space:]]*Socket errors:' <<<"$out" | sed 's/^[[:space:]]*//' || true)"
    [[ -n "$r_rps" && -n "$p50" && -n "$p99" ]] || {
        printf '%s\n' "$out" >&2
        die "could not parse wrk output (above)"
    }
    r_p50="$(to_ms "$p50")" || die "unknown latency unit in '$p50'"
    r_p99="$(to_ms "$p99")" || die "unknown latency unit in '$p99'"
}

# CPU time (user + system, in clock ticks) the server process has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}

# Microseconds of server CPU per request: cpu_per_request TICKS_BEFORE TICKS_AFTER REQUESTS
cpu_per_request() {
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", (n > 0 ? (b - a) * 1000000 / hz / n : 0) }'
}

# Runs hey at a fixed rate; sets f_p50 f_p99 (ms) and f_non200. Args: url [extra hey args...]
run_fixed() {
    local url="$1" out per_worker
    shift
    per_worker=$((FIXED_RATE / FIXED_CONNECTIONS))
    out="$(hey -z "$FIXED_DURATION" -c "$FIXED_CONNECTIONS" -q "$per_worker" "$@" "$url")" \
        || die "hey against $url failed"
    f_p50="$(awk '$1 == "50%" { printf "%.2f", $3 * 1000 }' <<<"$out")"
    f_p99="$(awk '$1 == "99%" { printf "%.2f", $3 * 1000 }' <<<"$out")"
    f_non200="$(awk '/^Status code distribution:/ { on = 1; next } on && /\[[0-9]+\]/ && $1 != "[200]" { n += $2 } END { print n + 0 }' <<<"$out")"
    [[ -n "$f_p50" && -n "$f_p99" ]] || {
        printf '%s\n' "$out" >&2
        die "could not parse hey output (above)"
    }
}

# Starts `tidegate serve` on $data, waits until /healthz answers; sets server_pid and base_url.
start_server() {
    local data="$1" logfile="$1/server.log" deadline addr=""
    TIDEGATE_STORAGE__DATA_DIR="$data" "$bin" serve >"$logfile" 2>&1 &
    server_pid=$!
    deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$logfile" >&2 || true
            wait "$server_pid" 2>/dev/null || true
            server_pid=""
            die "tidegate serve exited during start-up (log above)"
        fi
        if [[ -z "$addr" ]]; then
            addr="$(sed -n 's#^Tidegate listening on http://\([^[:space:]]*\).*#\1#p' "$logfile" | head -n 1)"
        fi
        if [[ -n "$addr" ]] && curl -fsS -o /dev/null --max-time 1 "http://$addr/healthz" 2>/dev/null; then
            break
        fi
        if ((SECONDS >= deadline)); then
            cat "$logfile" >&2 || true
            die "server did not answer /healthz within ${START_TIMEOUT}s (log above)"
        fi
        sleep 0.1
    done
    base_url="http://$addr"
}

# Sends SIGTERM and waits for the server to exit.
stop_server() {
    local pid="$server_pid" status=0 deadline
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 40))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "server (pid $pid) still running 40 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || status=$?
    server_pid=""
    if ((status != 0)); then
        log "warning: tidegate serve exited with status $status after SIGTERM"
    fi
}

# Percentage of all CPUs busy over one second (run while the server is idle).
cpu_busy() {
    local a b
    a="$(head -n 1 /proc/stat)"
    sleep 1
    b="$(head -n 1 /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); total = 0
        for (i = 2; i <= n; i++) total += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f%%", (total > 0 ? 100 * (total - idle) / total : 0)
    }'
}

mark() { # mark OK_CONDITION (awk expression) -> "" or "MISSED"
    awk "BEGIN { exit !($1) }" && echo "" || echo "MISSED"
}

# --- one benchmark run ---------------------------------------------------------------------------

# bench_run LABEL EXTRA_KEYS; sets last_status_rps.
bench_run() {
    local label="$1" extra="$2" data account key manager t0 code out hwm
    data="$work/$label"
    mkdir -p "$data"
    export TIDEGATE_STORAGE__DATA_DIR="$data"

    # The store is made by the server's first start; commands never make one.
    start_server "$data"
    stop_server
    account="$("$bin" accounts create --name bench --json | json_field id)" \
        || die "could not create the bench account"
    key="$("$bin" keys create --account "$account" --name bench --preset full_access --json | json_field key)" \
        || die "could not create the bench key"
    [[ -n "$account" && -n "$key" ]] || die "account id or key came back empty"
    manager="$("$bin" keys create --account "$account" --name bench-manager --preset key_management --json | json_field key)" \
        || die "could not create the bench management key"
    "$bin" credits add --account "$account" --amount 1000000 --json >/dev/null \
        || die "could not add credits to the bench account"

    if ((extra > 0)); then
        log "seeding $extra extra keys with tidegate bench-seed ..."
        t0="$(now)"
        "$bin" bench-seed --account "$account" --count "$extra" || die "tidegate bench-seed failed"
        seed_secs="$(elapsed "$t0")"
        log "bench-seed stored $extra keys in ${seed_secs} s"
    fi

    start_server "$data"
    log "server pid $server_pid listening on $base_url (data dir $data)"

    code="$(curl -sS -o "$data/status.json" -w '%{http_code}' -H "Authorization: Bearer $key" "$base_url/v1/status")" \
        || die "curl $base_url/v1/status failed"
    if [[ "$code" != 200 ]]; then
        cat "$data/status.json" >&2 || true
        echo >&2
        die "GET /v1/status with the bench key returned HTTP $code, expected 200 (body above)"
    fi

    local -a auth=(-H "Authorization: Bearer $key")
    if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
        log "warm-up ($WARMUP each)"
        run_wrk "$base_url/healthz" "$WARMUP" >/dev/null
        run_wrk "$base_url/v1/status" "$WARMUP" "${auth[@]}" >/dev/null
    fi

    local busy
    busy="$(cpu_busy)"
    log "measuring GET /healthz for $DURATION"
    local t_before t_after
    t_before="$(cpu_ticks)"
    out="$(run_wrk "$base_url/healthz" "$DURATION")" || die "wrk against /healthz failed"
    t_after="$(cpu_ticks)"
    parse_wrk "$out"
    local h_rps="$r_rps" h_p50="$r_p50" h_p99="$r_p99" h_non2xx="$r_non2xx" h_sock="$r_sockerr"
    local h_cpu
    h_cpu="$(cpu_per_request "$t_before" "$t_after" "$(awk '/requests in/ { print $1 }' <<<"$out")")"

    log "measuring GET /v1/status for $DURATION"
    t_before="$(cpu_ticks)"
    out="$(run_wrk "$base_url/v1/status" "$DURATION" "${auth[@]}")" || die "wrk against /v1/status failed"
    t_after="$(cpu_ticks)"
    parse_wrk "$out"
    local s_rps="$r_rps" s_p50="$r_p50" s_p99="$r_p99" s_non2xx="$r_non2xx" s_sock="$r_sockerr"
    local s_cpu
    s_cpu="$(cpu_per_request "$t_before" "$t_after" "$(awk '/requests in/ { print $1 }' <<<"$out")")"

    log "measuring both at a fixed $FIXED_RATE req/s for $FIXED_DURATION each (hey)"
    run_fixed "$base_url/healthz"
    local hf_p50="$f_p50" hf_p99="$f_p99" hf_bad="$f_non200"
    curl -fsS -o "$data/metrics.before" "$base_url/metrics" || die "GET /metrics failed"
    t0="$(now)"
    run_fixed "$base_url/v1/status" -H "Authorization: Bearer $key"
    local fixed_secs
    fixed_secs="$(elapsed "$t0")"
    curl -fsS -o "$data/metrics.after" "$base_url/metrics" || die "GET /metrics failed"
    local sf_p50="$f_p50" sf_p99="$f_p99" sf_bad="$f_non200"
    local components
    components="$(python3 "$script_dir/histograms.py" "$data/metrics.before" "$data/metrics.after" "$fixed_secs")" \
        || die "could not read the distributions from /metrics"
    ((hf_bad + sf_bad == 0)) || die "hey saw non-200 answers (/healthz $hf_bad, /v1/status $sf_bad)"

    local generations="" webhooks=""
    if ((extra == 0)); then
        log "measuring generations on the local provider (${GEN_SECONDS}s with $GEN_CLIENTS clients)"
        generations="$(python3 "$script_dir/generations.py" --base "$base_url" --key "$key" \
            --clients "$GEN_CLIENTS" --seconds "$GEN_SECONDS")" || die "the generation benchmark failed"
        log "measuring webhook deliveries"
        webhooks="$(python3 "$script_dir/webhooks.py" --base "$base_url" --key "$key" \
            --manager "$manager")" || die "the webhook benchmark failed"
    fi

    hwm="$(awk '/^VmHWM:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$server_pid/status" 2>/dev/null || true)"
    stop_server

    local failed=false
    if [[ -n "$h_non2xx" ]]; then
        log "FAILURE: wrk reported 'Non-2xx or 3xx responses: $h_non2xx' for /healthz"
        failed=true
    fi
    if [[ -n "$s_non2xx" ]]; then
        log "FAILURE: wrk reported 'Non-2xx or 3xx responses: $s_non2xx' for /v1/status"
        failed=true
    fi

    local stored=$((extra + 1)) ratio
    ratio="$(awk -v a="$s_rps" -v b="$h_rps" 'BEGIN { printf "%.2f", a / b }')"
    echo
    echo "== tidegate benchmark: $stored stored key(s)  (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, loopback, $(nproc) CPUs)"
    [[ -n "${seed_secs:-}" && "$extra" -gt 0 ]] && echo "   bench-seed of $extra keys took ${seed_secs} s"
    printf '%-14s %10s %8s %8s\n' endpoint req/s "p50 ms" "p99 ms"
    printf '%-14s %10.1f %8s %8s\n' /healthz "$h_rps" "$h_p50" "$h_p99"
    printf '%-14s %10.1f %8s %8s\n' /v1/status "$s_rps" "$s_p50" "$s_p99"
    printf 'ratio /v1/status ÷ /healthz: %-6s (target ≥ 0.70) %s\n' "$ratio" "$(mark "$ratio >= 0.70")"
    printf 'p99 /v1/status: %s ms%*s(target ≤ 5 ms) %s\n' "$s_p99" $((11 - ${#s_p99})) "" "$(mark "$s_p99 <= 5")"
    local cpu_ratio add50 add99
    cpu_ratio="$(awk -v a="$s_cpu" -v b="$h_cpu" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    add50="$(awk -v a="$sf_p50" -v b="$hf_p50" 'BEGIN { printf "%.2f", a - b }')"
    add99="$(awk -v a="$sf_p99" -v b="$hf_p99" 'BEGIN { printf "%.2f", a - b }')"
    printf 'server CPU per request: /healthz %s µs, /v1/status %s µs, ×%s (target ≤ 2.0) %s\n' \
        "$h_cpu" "$s_cpu" "$cpu_ratio" "$(mark "$cpu_ratio <= 2.0")"
    echo "fixed $FIXED_RATE req/s, $FIXED_CONNECTIONS connections (hey -z $FIXED_DURATION):"
    printf '%-14s %8s %8s\n' endpoint "p50 ms" "p99 ms"
    printf '%-14s %8s %8s\n' /healthz "$hf_p50" "$hf_p99"
    printf '%-14s %8s %8s\n' /v1/status "$sf_p50" "$sf_p99"
    printf 'added by the key check and the log: p50 %s ms (target ≤ 0.3) %s, p99 %s ms (target ≤ 1) %s\n' \
        "$add50" "$(mark "$add50 <= 0.3")" "$add99" "$(mark "$add99 <= 1")"
    echo "inside the server during the fixed-rate /v1/status run:"
    printf '%s\n' "$components"
    echo "server peak RSS (VmHWM): ${hwm:-unavailable}"
    echo "CPU busy in the idle second before measuring: $busy   (other work on the machine skews the figures)"
    [[ -n "$generations" ]] && printf '%s\n' "$generations"
    [[ -n "$webhooks" ]] && printf '%s\n' "$webhooks"
    [[ -n "$h_sock" ]] && echo "/healthz   $h_sock"
    [[ -n "$s_sock" ]] && echo "/v1/status $s_sock"
    [[ -n "$h_non2xx" ]] && echo "/healthz   Non-2xx or 3xx responses: $h_non2xx   FAILED"
    [[ -n "$s_non2xx" ]] && echo "/v1/status Non-2xx or 3xx responses: $s_non2xx   FAILED"
    echo
    $failed && die "wrk saw non-2xx responses; the figures above are not valid"

    last_status_rps="$s_rps"
    unset TIDEGATE_STORAGE__DATA_DIR
    return 0
}

# --- several nodes (--backend postgres) ----------------------------------------------------------

# Starts one more node on $data with the store settings of the environment; appends its pid to
# node_pids and its address to node_urls.
start_node() {
    local data="$1" logfile addr="" deadline pid
    logfile="$data/node-${#node_pids[@]}.log"
    TIDEGATE_STORAGE__DATA_DIR="$data" "$bin" serve >"$logfile" 2>&1 &
    pid=$!
    node_pids+=("$pid")
    deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; die "a node exited during start-up (log above)"; }
        [[ -n "$addr" ]] || addr="$(sed -n 's#^Tidegate listening on http://\([^[:space:]]*\).*#\1#p' "$logfile" | head -n 1)"
        if [[ -n "$addr" ]] && curl -fsS -o /dev/null --max-time 1 "http://$addr/healthz" 2>/dev/null; then
            break
        fi
        ((SECONDS < deadline)) || { cat "$logfile" >&2; die "a node did not answer /healthz in time"; }
        sleep 0.1
    done
    node_urls+=("http://$addr")
}

stop_nodes() {
    for pid in "${node_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    node_pids=()
    node_urls=()
}

# One measurement of /v1/status: store_run LABEL BACKEND NODES. With two nodes, one wrk per
# node at half the threads and connections each, at once; req/s summed, p99 the larger. Sets
# store_rps and store_p99; with two nodes also prints the revocation propagation.
store_run() {
    local label="$1" store="$2" nodes="$3" data account key manager out i
    data="$work/$label"
    mkdir -p "$data"
    export TIDEGATE_STORAGE__DATA_DIR="$data"
    if [[ "$store" == postgres ]]; then
        psql "$pg_admin" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS tidegate_bench WITH (FORCE)" \
            -c "CREATE DATABASE tidegate_bench" >&2 || die "cannot create the database tidegate_bench"
        export TIDEGATE_STORAGE__BACKEND=postgres TIDEGATE_STORAGE__POSTGRES_URL="$pg_bench"
    else
        unset TIDEGATE_STORAGE__BACKEND TIDEGATE_STORAGE__POSTGRES_URL
    fi
    start_server "$data"
    stop_server
    account="$("$bin" accounts create --name bench --json | json_field id)" || die "no bench account"
    key="$("$bin" keys create --account "$account" --name bench --preset full_access --json | json_field key)" \
        || die "no bench key"
    manager="$("$bin" keys create --account "$account" --name manager --preset key_management --json | json_field key)" \
        || die "no management key"
    node_urls=()
    for ((i = 0; i < nodes; i++)); do
        start_node "$data"
    done
    log "$label: $nodes node(s) on $store at ${node_urls[*]}"
    local -a auth=(-H "Authorization: Bearer $key")
    for url in "${node_urls[@]}"; do
        [[ "$WARMUP" == 0 || "$WARMUP" == 0s ]] || run_wrk "$url/v1/status" "$WARMUP" "${auth[@]}" >/dev/null
    done
    if ((nodes == 1)); then
        out="$(run_wrk "${node_urls[0]}/v1/status" "$DURATION" "${auth[@]}")" || die "wrk failed"
        parse_wrk "$out"
        [[ -z "$r_non2xx" ]] || die "wrk saw non-2xx answers on $label"
        store_rps="$r_rps"
        store_p99="$r_p99"
    else
        local -a wrk_pids=()
        for ((i = 0; i < nodes; i++)); do
            wrk -t1 -c$((CONNECTIONS / nodes)) -d"$DURATION" --latency "${auth[@]}" \
                "${node_urls[$i]}/v1/status" >"$data/wrk-$i.out" &
            wrk_pids+=("$!")
        done
        for pid in "${wrk_pids[@]}"; do
            wait "$pid" || die "wrk failed"
        done
        store_rps=0
        store_p99=0
        for ((i = 0; i < nodes; i++)); do
            parse_wrk "$(cat "$data/wrk-$i.out")"
            [[ -z "$r_non2xx" ]] || die "wrk saw non-2xx answers on $label"
            store_rps="$(awk -v a="$store_rps" -v b="$r_rps" 'BEGIN { printf "%.1f", a + b }')"
            store_p99="$(awk -v a="$store_p99" -v b="$r_p99" 'BEGIN { printf "%.2f", (b > a ? b : a) }')"
        done
        log "$label: revocation propagation (100 rounds)"
        propagation="$(python3 "$script_dir/propagation.py" --writer "${node_urls[0]}" \
            --reader "${node_urls[1]}" --manager "$manager")" || die "the propagation benchmark failed"
    fi
    stop_nodes
    unset TIDEGATE_STORAGE__DATA_DIR TIDEGATE_STORAGE__BACKEND TIDEGATE_STORAGE__POSTGRES_URL
}

cluster_bench() {
    command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"
    local base="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    pg_admin="$base"
    pg_bench="${base%/*}/tidegate_bench"
    propagation=""
    # Every round of the propagation run ends in a refused (revoked) key: not an attack.
    export TIDEGATE_AUTH__PREAUTH_MAX_FAILURES=1000000
    store_run sqlite-1 sqlite 1
    local s_rps="$store_rps" s_p99="$store_p99"
    store_run postgres-1 postgres 1
    local p1_rps="$store_rps" p1_p99="$store_p99"
    store_run postgres-2 postgres 2
    local p2_rps="$store_rps" p2_p99="$store_p99"
    psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS tidegate_bench WITH (FORCE)" >&2 || true
    echo
    echo "== tidegate on PostgreSQL: GET /v1/status (wrk -d$DURATION, $CONNECTIONS connections in all, loopback, $(nproc) CPUs)"
    printf '%-28s %10s %8s\n' store req/s "p99 ms"
    printf '%-28s %10.1f %8s\n' "SQLite, 1 node" "$s_rps" "$s_p99"
    printf '%-28s %10.1f %8s\n' "PostgreSQL, 1 node" "$p1_rps" "$p1_p99"
    printf '%-28s %10.1f %8s\n' "PostgreSQL, 2 nodes" "$p2_rps" "$p2_p99"
    printf 'PostgreSQL ÷ SQLite, 1 node: %s; 2 nodes ÷ 1 node: %s\n' \
        "$(awk -v a="$p1_rps" -v b="$s_rps" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$p2_rps" -v b="$p1_rps" 'BEGIN { printf "%.2f", a / b }')"
    echo "(the nodes, the database and wrk share this machine's CPUs)"
    printf '%s\n' "$propagation"
    echo
}

# --- main ----------------------------------------------------------------------------------------

if [[ "$backend" == postgres ]]; then
    cluster_bench
elif $compare; then
    seed_secs=""
    bench_run small 0
    small_rps="$last_status_rps"
    seed_secs=""
    bench_run large "$keys"
    large_rps="$last_status_rps"
    ratio="$(awk -v a="$large_rps" -v b="$small_rps" 'BEGIN { printf "%.2f", a / b }')"
    echo "== comparison"
    printf '%-40s %10.1f\n' "/v1/status req/s, 1 stored key:" "$small_rps"
    printf '%-40s %10.1f\n' "/v1/status req/s, $((keys + 1)) stored keys:" "$large_rps"
    printf 'ratio large ÷ small store: %s   (target ≥ 0.95) %s\n' "$ratio" "$(mark "$ratio >= 0.95")"
else
    seed_secs=""
    bench_run run "$keys"
fi
