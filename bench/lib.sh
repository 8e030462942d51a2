# Shell helpers shared by the bench/*.sh scripts: the run's temp dir, process checks, ports,
# starting a server on a free port, the driver, nginx and davgate's lifecycle. Sourced, never
# run. The sourcing script defines `log` and sets the globals these read: HERE (bench/), WORK
# (the temp dir, or start_work_dir sets it), BENCH_USER, BENCH_PASS, BENCH_ARGS (extra driver
# flags) and FAILED, and may set
# DAVGATE_BIN; they set BENCH, DAVGATE_PID, DAVGATE_URL, DAVGATE_DATA and DAVGATE_SKIP, for
# nginx NGINX, NGINX_PID, NGINX_URL and NGINX_HASH, and for any server started on a free
# port STARTED_PID and STARTED_PORTS.
# shellcheck shell=bash
# The globals set here are read by the sourcing script:
# shellcheck disable=SC2034

# Sets QUICK=1 for --quick; -h prints the caller's usage; anything else is an error. The
# caller defines usage and log before sourcing this file.
parse_args() {
    QUICK=0
    local arg
    for arg in "$@"; do
        case $arg in
            --quick) QUICK=1 ;;
            -h | --help) usage; exit 0 ;;
            *) log "unknown argument $arg"; usage >&2; exit 2 ;;
        esac
    done
}

# NAME: the run's private temp dir in WORK (davgate-NAME.XXXXXX, under TMPDIR), FAILED=0,
# and a umask that keeps what goes in it (passwords, htpasswd files) to the invoking user.
# On any exit the davgate in DAVGATE_PID is stopped and the dir removed; for scripts that
# run one davgate at a time (the others stop their own servers in a cleanup of their own).
start_work_dir() {
    umask 077
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/davgate-$1.XXXXXX")
    DAVGATE_PID=
    FAILED=0
    trap stop_davgate_and_remove_work_dir EXIT
    trap 'exit 130' INT TERM
}

stop_davgate_and_remove_work_dir() {
    local rc=$?
    stop_server "$DAVGATE_PID"
    rm -rf "$WORK"
    exit "$rc"
}

# NAME [LABEL=BINARY]...: for scripts that measure nginx and davgate builds, all up at
# once: the run's temp dir (as start_work_dir), nginx, and a davgate under each LABEL
# (BINARY empty: this workspace's release build; none given: davgate=), all stopped and the
# dir removed on any exit. Sets NGINX_PID, DAVGATE_PIDS, LABELS (nginx first) and TARGETS
# (--target LABEL URL PID for each, as readers.py and uploads.py take them).
start_nginx_and_builds() {
    local name=$1 build label
    shift
    umask 077
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/davgate-$name.XXXXXX")
    NGINX_PID=
    DAVGATE_PIDS=()
    FAILED=0
    trap stop_servers_and_remove_work_dir EXIT
    trap 'exit 130' INT TERM
    ensure_nginx
    if ! start_nginx; then
        log "nginx did not start"
        exit 1
    fi
    log "nginx $NGINX_URL (pid $NGINX_PID)"
    TARGETS=(--target nginx "$NGINX_URL" "$NGINX_PID")
    LABELS=(nginx)
    (($#)) || set -- davgate=
    for build in "$@"; do
        label=${build%%=*}
        [[ $label =~ ^[A-Za-z0-9_.-]+$ && $label != nginx ]] ||
            { log "a build's label is letters, digits, '.', '_' or '-', and not nginx: $label"; exit 2; }
        DAVGATE_BIN=${build#*=}
        DAVGATE_SKIP=
        if ! start_davgate "$label"; then
            log "$label: $DAVGATE_SKIP"
            exit 1
        fi
        DAVGATE_PIDS+=("$DAVGATE_PID")
        log "$label $DAVGATE_URL (pid $DAVGATE_PID, $DAVGATE_BIN)"
        TARGETS+=(--target "$label" "$DAVGATE_URL" "$DAVGATE_PID")
        LABELS+=("$label")
    done
}

stop_servers_and_remove_work_dir() {
    local rc=$? pid
    for pid in "${DAVGATE_PIDS[@]}"; do stop_server "$pid"; done
    stop_server "$NGINX_PID"
    rm -rf "$WORK"
    exit "$rc"
}

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

# NAME LOG PORTS CONF... -- CMD...: starts CMD in the background, its output appended to LOG,
# once `CONF... PORT...` has written its config for PORTS fresh ports, and waits until every
# port answers; new ports each of three tries (see pick_port). Sets STARTED_PID and the
# array STARTED_PORTS.
start_on_free_ports() {
    local name=$1 logfile=$2 count=$3 conf=() attempt port ports ready
    shift 3
    while (($#)) && [[ $1 != -- ]]; do
        conf+=("$1")
        shift
    done
    shift
    for attempt in 1 2 3; do
        STARTED_PORTS=()
        for _ in $(seq "$count"); do
            STARTED_PORTS+=("$(pick_port)")
        done
        "${conf[@]}" "${STARTED_PORTS[@]}"
        "$@" >>"$logfile" 2>&1 &
        STARTED_PID=$!
        ready=1
        for port in "${STARTED_PORTS[@]}"; do
            wait_ready "$STARTED_PID" "$port" || { ready=0; break; }
        done
        ((ready)) && return 0
        ports="${STARTED_PORTS[*]}"
        log "$name did not come up on port${STARTED_PORTS[1]:+s} ${ports// / and } (try $attempt of 3):"
        tail -n 5 "$logfile" >&2 || true
        stop_server "$STARTED_PID"
    done
    STARTED_PID=
    return 1
}

stub_report() { # LABEL REASON > JSON: a report the driver's --compare shows as "not measured"
    python3 -c 'import json, sys; print(json.dumps({"label": sys.argv[1], "skipped": sys.argv[2]}))' "$1" "$2"
}

# LABEL PID DRIVER ARGS…: workloads against one server, into $WORK/LABEL.json; the args name
# the server's URL (--url, --calendar-url).
run_driver() {
    local label=$1 pid=$2 rc=0
    shift 2
    log "running the workloads on $label"
    "$BENCH" --user "$BENCH_USER" --label "$label" --server-pid "$pid" --json \
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

# NAME [CONFIG [reuse]]: starts "$DAVGATE_BIN" on a fresh data dir $WORK/NAME holding one
# account, with CONFIG (TOML text) as its config file if given; with `reuse`, on the data dir
# an earlier start of NAME left (a restart). Sets DAVGATE_PID, DAVGATE_URL and DAVGATE_DATA.
# davgate binds 127.0.0.1:0 itself and reports the port on stdout, so there is no port race.
# Returns 2 when the server does not come up.
start_davgate() {
    local name=$1 config=${2:-} reuse=${3:-} addr i
    local data=$WORK/$name config_args=()
    ensure_davgate_bin || return 1
    mkdir -p "$data"
    if [[ -n $config ]]; then
        printf '# Generated by bench/%s for %s.\n%s\n' "$(basename "$0")" "$name" "$config" \
            >"$WORK/$name.toml"
        config_args=(--config "$WORK/$name.toml")
    fi
    # --data-dir is a global flag: the account must land where serve will look.
    if [[ $reuse != reuse ]] &&
        ! "$DAVGATE_BIN" user add "$BENCH_USER" --password-stdin --data-dir "$data" <<<"$BENCH_PASS" >&2; then
        DAVGATE_SKIP="davgate user add failed"
        return 2
    fi
    DAVGATE_DATA=$data
    # Emptied before the start, not by its redirection: on a restart the loop below could
    # otherwise read the last start's address before the new process truncates the file.
    : >"$WORK/$name.out"
    "$DAVGATE_BIN" "${config_args[@]}" serve --listen 127.0.0.1:0 --data-dir "$data" \
        >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
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

# NAME: the URL of the bench account's calendar NAME on the davgate start_davgate started.
# start_davgate gives the WebDAV files URL; the calendars live beside it.
calendar_url() {
    echo "${DAVGATE_URL%/files/}/dav/calendars/$BENCH_USER/$1/"
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

# ---- nginx -----------------------------------------------------------------------------------

# The WebDAV methods nginx leaves to an extension module (PROPFIND, OPTIONS).
DAV_EXT_MODULE=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so

# WHAT PACKAGE...: installs Debian packages when run as root; otherwise says what to run and
# stops.
install_packages() {
    local what=$1
    shift
    if [[ $(id -u) != 0 ]]; then
        log "missing $what; install them as root: apt-get install $*"
        exit 1
    fi
    log "installing $what"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_nginx() {
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    if [[ -x $NGINX && -f $DAV_EXT_MODULE ]] && command -v htpasswd >/dev/null; then
        return
    fi
    install_packages "nginx, its WebDAV extension module and htpasswd" \
        nginx libnginx-mod-http-dav-ext apache2-utils
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

# DIR WHAT [MAIN]: DIR/nginx.conf for an nginx serving WHAT on loopback, every path inside
# DIR, MAIN (e.g. a load_module line) in its main context and its http block's own
# directives read from stdin.
write_nginx_frame() {
    local dir=$1 what=$2 main=${3:-} user_line=
    # Only a root master switches its workers to `user` (nobody by default); keep ours as the
    # invoking user so they can write the temp dir.
    if [[ $(id -u) == 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
    {
        cat <<EOF
# Generated by bench/$(basename "$0"): $what on loopback, every path inside $dir.
daemon off;
master_process on;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$main
$user_line
events { worker_connections 1024; }
http {
    access_log off;
    # nginx closes a connection after 1000 requests by default; davgate does not, so lift it
    # to measure keep-alive on both.
    keepalive_requests 1000000;
    # On the root's filesystem: a finished PUT is renamed into place, not copied.
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
EOF
        cat
        echo "}"
    } >"$dir/nginx.conf"
}

write_nginx_conf() { # DIR PORT
    local dir=$1 port=$2
    write_nginx_frame "$dir" WebDAV "load_module $DAV_EXT_MODULE;" <<EOF
    default_type application/octet-stream;
    sendfile on;
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
EOF
}

start_nginx() { # sets NGINX_PID, NGINX_URL, NGINX_HASH
    local dir=$WORK/nginx
    mkdir -p "$dir/root/dav" "$dir/body" "$dir/tmp"
    # htpasswd's default hash, as an admin following the nginx docs would get.
    htpasswd -b -c "$dir/htpasswd" "$BENCH_USER" "$BENCH_PASS" 2>/dev/null || return 1
    NGINX_HASH=$(cut -d: -f2 "$dir/htpasswd" | cut -d'$' -f2)
    start_on_free_ports nginx "$dir/error.log" 1 write_nginx_conf "$dir" -- \
        "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || return 1
    NGINX_PID=$STARTED_PID
    NGINX_URL="http://127.0.0.1:${STARTED_PORTS[0]}/dav/"
}
