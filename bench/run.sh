#!/usr/bin/env bash
# Benchmarks davgate against nginx's WebDAV module with davgate-bench, one server after the
# other, and prints a markdown report (command, machine, date, side-by-side table) to stdout,
# ready for bench/RESULTS.md. Progress and logs go to stderr. Two more davgate instances, again
# one at a time, measure what nginx has no equivalent for: auth_cold (credential cache off) and
# auth_flood (client address from X-Forwarded-For); their rows join davgate's column.
#
# usage: bench/run.sh [--quick]
#   --quick       small sizes and counts: a smoke run that takes seconds
#   DAVGATE_BIN   the davgate binary to measure (default: build this workspace's release binary)
#   BENCH_JSON_DIR  if set, the raw JSON reports (every run) are copied there
#
# Every server listens on 127.0.0.1 only, runs as the invoking user with every path (config,
# pid, logs, data) in one temp dir, and is stopped, and the temp dir removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAV_EXT_MODULE=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
BENCH_USER=bench

usage() { sed -n '8,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "run.sh: $*" >&2; }

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h | --help) usage; exit 0 ;;
        *) log "unknown argument $arg"; usage >&2; exit 2 ;;
    esac
done
COMMAND_LINE="bench/run.sh${*:+ $*}"
if ((QUICK)); then
    BENCH_ARGS=(--size 64MiB --repeat 1 --files 200 --entries 500 --propfind-runs 3 --duration 2s)
else
    BENCH_ARGS=()
fi

# A fresh password per run, hex only so it needs no quoting anywhere. The driver reads it from
# the environment rather than argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

# The temp dir holds an app password file too: nothing in it is for other users.
umask 077
WORK=$(mktemp -d "${TMPDIR:-/tmp}/davgate-bench.XXXXXX")
NGINX_PID=
DAVGATE_PID=
FAILED=0

cleanup() {
    local rc=$?
    stop_server "$DAVGATE_PID"
    stop_server "$NGINX_PID"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------------------------

# A background child that has exited stays a zombie until waited for, so `kill -0` alone would
# call it alive. One read of the state, so a process vanishing mid-check counts as gone.
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z* ]]
}

stop_server() { # PID: TERM, up to 10 s to exit, then KILL
    local pid=$1
    [[ -n $pid ]] || return 0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            alive "$pid" || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# Race: the port is free when python3 closes its socket, but another process may take it before
# our server binds it. The servers cannot be handed a bound socket, so a server that does not
# come up is retried on a new port (3 tries), and wait_ready re-checks that it is still alive.
pick_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # PID PORT: until the port accepts connections (10 s at most) and PID still runs
    local pid=$1 port=$2
    for _ in $(seq 100); do
        alive "$pid" || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            # Someone else may hold the port while our server is failing to bind it.
            sleep 0.3
            alive "$pid"
            return
        fi
        sleep 0.1
    done
    return 1
}

stub_report() { # LABEL REASON > JSON: a report the driver's --compare shows as "not measured"
    python3 -c 'import json, sys; print(json.dumps({"label": sys.argv[1], "skipped": sys.argv[2]}))' "$1" "$2"
}

run_driver() { # LABEL URL PID [DRIVER ARGS…]: workloads against one server, into $WORK/LABEL.json
    local label=$1 url=$2 pid=$3 rc=0
    shift 3
    log "running the workloads on $label ($url)"
    "$BENCH" --url "$url" --user "$BENCH_USER" --label "$label" --server-pid "$pid" --json \
        "${BENCH_ARGS[@]}" "$@" >"$WORK/$label.json" || rc=$?
    if ((rc != 0)); then
        FAILED=1
        stub_report "$label" "davgate-bench failed (exit $rc); see its error on stderr" >"$WORK/$label.json"
    fi
}

build_driver() {
    log "building davgate-bench (release)"
    cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" >&2
    local target_dir
    target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$HERE/Cargo.toml" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BENCH=$target_dir/release/davgate-bench
}

# ---- nginx -----------------------------------------------------------------------------------

ensure_nginx() {
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    if [[ -x $NGINX && -f $DAV_EXT_MODULE ]] && command -v htpasswd >/dev/null; then
        return
    fi
    if [[ $(id -u) != 0 ]]; then
        log "missing nginx, libnginx-mod-http-dav-ext or apache2-utils; install them as root"
        exit 1
    fi
    log "installing nginx, its WebDAV extension module and htpasswd"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-dav-ext apache2-utils >&2
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

write_nginx_conf() { # DIR PORT
    local dir=$1 port=$2 user_line=
    # Only a root master switches its workers to `user` (nobody by default); keep ours as the
    # invoking user so they can write the temp dir.
    if [[ $(id -u) == 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
    cat >"$dir/nginx.conf" <<EOF
# Generated by bench/run.sh: WebDAV on loopback, every path inside $dir.
daemon off;
master_process on;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
load_module $DAV_EXT_MODULE;
$user_line
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    # nginx closes a connection after 1000 requests by default; davgate does not, so lift it
    # to measure keep-alive on both.
    keepalive_requests 1000000;
    # Same filesystem as root: a finished PUT is renamed into place, not copied.
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/root;
        location /dav/ {
            auth_basic "davgate-bench";
            auth_basic_user_file $dir/htpasswd;
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            dav_access user:rw group:r all:r;
            create_full_put_path on;
            client_max_body_size 0;
        }
    }
}
EOF
}

start_nginx() { # sets NGINX_PID, NGINX_URL, NGINX_HASH
    local dir=$WORK/nginx port attempt
    mkdir -p "$dir/root/dav" "$dir/body" "$dir/tmp"
    # htpasswd's default hash, as an admin following the nginx docs would get.
    htpasswd -b -c "$dir/htpasswd" "$BENCH_USER" "$BENCH_PASS" 2>/dev/null || return 1
    NGINX_HASH=$(cut -d: -f2 "$dir/htpasswd" | cut -d'$' -f2)
    for attempt in 1 2 3; do
        port=$(pick_port)
        write_nginx_conf "$dir" "$port"
        "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
        NGINX_PID=$!
        if wait_ready "$NGINX_PID" "$port"; then
            NGINX_URL="http://127.0.0.1:$port/dav/"
            return 0
        fi
        log "nginx did not come up on port $port (try $attempt of 3):"
        tail -n 5 "$dir/error.log" >&2 || true
        stop_server "$NGINX_PID"
        NGINX_PID=
    done
    return 1
}

# ---- davgate ---------------------------------------------------------------------------------

# Sets DAVGATE_BIN, building this workspace's release binary unless it is given. Returns 1
# (with DAVGATE_SKIP) when there is no binary to run.
ensure_davgate_bin() {
    if [[ -z ${DAVGATE_BIN:-} ]]; then
        log "building davgate (release)"
        cargo build --release --quiet --bin davgate --manifest-path "$HERE/../Cargo.toml" >&2
        DAVGATE_BIN=$(dirname "$BENCH")/davgate
    fi
    if [[ ! -x $DAVGATE_BIN ]]; then
        DAVGATE_SKIP="DAVGATE_BIN=$DAVGATE_BIN does not exist or is not executable"
        return 1
    fi
}

# NAME [CONFIG]: starts "$DAVGATE_BIN" on a fresh data dir $WORK/NAME holding one account, with
# CONFIG (TOML text) as its config file if given; sets DAVGATE_PID, DAVGATE_URL and
# DAVGATE_DATA. davgate binds 127.0.0.1:0 itself and reports the port on stdout, so there is no
# port race. Returns 2 when the server does not come up.
start_davgate() {
    local name=$1 config=${2:-} addr i
    local data=$WORK/$name config_args=()
    ensure_davgate_bin || return 1
    mkdir -p "$data"
    if [[ -n $config ]]; then
        printf '# Generated by bench/run.sh for %s.\n%s\n' "$name" "$config" >"$WORK/$name.toml"
        config_args=(--config "$WORK/$name.toml")
    fi
    # --data-dir is a global flag: the account must land where serve will look.
    if ! "$DAVGATE_BIN" user add "$BENCH_USER" --password-stdin --data-dir "$data" <<<"$BENCH_PASS" >&2; then
        DAVGATE_SKIP="davgate user add failed"
        return 2
    fi
    DAVGATE_DATA=$data
    "$DAVGATE_BIN" "${config_args[@]}" serve --listen 127.0.0.1:0 --data-dir "$data" \
        >"$WORK/$name.out" 2>>"$WORK/$name.log" &
    DAVGATE_PID=$!
    for i in $(seq 1 100); do
        addr=$(sed -n 's|^davgate listening on http://||p' "$WORK/$name.out")
        if [[ -n $addr ]]; then
            DAVGATE_URL="http://$addr/files/"
            return 0
        fi
        kill -0 "$DAVGATE_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 5 "$WORK/$name.log" >&2 || true
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
    DAVGATE_SKIP="davgate did not start; its log is on stderr"
    return 2
}

# Creates an app password for the bench account in $DAVGATE_DATA and writes it to
# $WORK/app-password (mode 0600 by the umask), never to the terminal or a command line. The
# CLI prints it alone on an indented line: 8 characters of id, then 4 groups of 7.
create_app_password() {
    local out
    out=$("$DAVGATE_BIN" app-password create "$BENCH_USER" --name "davgate-bench valid client" \
        --data-dir "$DAVGATE_DATA" 2>>"$WORK/app-password.log") || return 1
    sed -n 's/^[[:space:]]*\([a-z2-7]\{8\}\(-[a-z2-7]\{7\}\)\{4\}\)[[:space:]]*$/\1/p' <<<"$out" |
        head -n 1 >"$WORK/app-password"
    [[ -s $WORK/app-password ]]
}

# NAME CONFIG SETUP DRIVER_ARGS…: one more davgate instance with its own config, for workloads
# whose rows join davgate's column; SETUP (a command, `:` for none) runs once it is up. Writes
# $WORK/NAME.json, a stub if it could not run.
run_davgate_instance() {
    local name=$1 config=$2 setup=$3 rc=0
    shift 3
    DAVGATE_SKIP=
    start_davgate "$name" "$config" || rc=$?
    if ((rc != 0)); then
        log "skipping $name: $DAVGATE_SKIP"
        ((rc == 1)) || FAILED=1
        stub_report "$name" "$DAVGATE_SKIP" >"$WORK/$name.json"
        return
    fi
    log "$name $DAVGATE_URL (pid $DAVGATE_PID): $config"
    if "$setup"; then
        run_driver "$name" "$DAVGATE_URL" "$DAVGATE_PID" "$@"
    else
        FAILED=1
        stub_report "$name" "$setup failed; see stderr" >"$WORK/$name.json"
    fi
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
}

# ---- main ------------------------------------------------------------------------------------

build_driver
ensure_nginx

# One server at a time, so neither competes with the other for the two cores or page cache.
if start_nginx; then
    log "nginx $NGINX_URL (pid $NGINX_PID)"
    run_driver nginx "$NGINX_URL" "$NGINX_PID"
    stop_server "$NGINX_PID"
    NGINX_PID=
else
    FAILED=1
    stub_report nginx "nginx did not start" >"$WORK/nginx.json"
fi
rm -rf "$WORK/nginx/root" "$WORK/nginx/body" # free the big file before davgate writes its own

DAVGATE_SKIP=
davgate_rc=0
start_davgate davgate || davgate_rc=$?
if ((davgate_rc == 0)); then
    log "davgate $DAVGATE_URL (pid $DAVGATE_PID)"
    run_driver davgate "$DAVGATE_URL" "$DAVGATE_PID"
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
else
    log "skipping davgate: $DAVGATE_SKIP"
    ((davgate_rc == 1)) || FAILED=1
    stub_report davgate "$DAVGATE_SKIP" >"$WORK/davgate.json"
fi
rm -rf "$WORK/davgate" # its big file too

# Every request a full argon2id check: the cache off also stops identical concurrent checks
# from sharing one hash.
run_davgate_instance davgate-nocache 'auth_cache_capacity = 0' : --workloads auth_cold
# The flood's fresh X-Forwarded-For addresses must reach the throttle, as behind a proxy.
run_davgate_instance davgate-xff 'client_address_header = "X-Forwarded-For"' create_app_password \
    --workloads auth_flood --app-password-file "$WORK/app-password"
rm -f "$WORK/app-password"

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
davgate_version=
if ((davgate_rc == 0)); then
    davgate_version=$("$DAVGATE_BIN" --version 2>/dev/null || echo "version unknown")
fi
cat <<EOF
## davgate-bench: nginx and davgate side by side

- Command: \`$COMMAND_LINE\`${BENCH_ARGS[*]:+ (driver flags: \`${BENCH_ARGS[*]}\`)}
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr); \`free -h\`:

\`\`\`
$(free -h)
\`\`\`

- nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //') with dav and dav_ext, worker_processes auto,
  sendfile on, keepalive_requests 1000000, body temp files on the root's filesystem; Basic auth
  against an htpasswd file in htpasswd's default hash (\`\$$NGINX_HASH\$\`: apr1-MD5 on Debian).
- davgate: ${davgate_version:-not measured: $DAVGATE_SKIP}
- Peak server RSS: the largest sum of VmRSS over the server and its child processes, sampled
  every 20 ms during each big-file run (nginx works in child processes).
- auth_cached: authenticated GETs of one small file, the credentials cached after the first.
  auth_cold: the same GETs on a second davgate with \`auth_cache_capacity = 0\`, so each
  request is a full argon2id check. auth_flood: on a third davgate with
  \`client_address_header = "X-Forwarded-For"\`, a client signed in with an app password GETs
  alone and then while the other connections send wrong passwords for the same user, each from
  a new address in 198.18.0.0/15 (never throttled, so every guess costs a hash); server CPU is
  utime+stime from /proc over the flood. nginx has no equivalent of the last two.

EOF
"$BENCH" --compare "$WORK/nginx.json" "$WORK/davgate.json" "$WORK/davgate-nocache.json" \
    "$WORK/davgate-xff.json"
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "$WORK/nginx.json" "$WORK/davgate.json" "$WORK/davgate-nocache.json" \
        "$WORK/davgate-xff.json" "$BENCH_JSON_DIR/"
fi

exit "$FAILED"
