#!/usr/bin/env bash
# Builds deploy/Containerfile with podman and checks that the image works, on a machine
# that may have no container registry at all. NOT run by CI (it debootstraps Debian and
# compiles davgate in release mode: 15-30 minutes on two cores); run it by hand after
# changing deploy/Containerfile, .dockerignore or the container section of the README:
#
#   sudo bash deploy/container-check.sh          # from the repository root
#
# What it proves, exiting non-zero at the first failure:
#   - `podman build --format docker -f deploy/Containerfile .` builds the image from an
#     unchanged Containerfile, with a build context that leaves out target/, data/, .git/;
#   - with neither TLS nor DAVGATE_TRUSTED_PROXY the container refuses to start and says
#     why;
#   - behind a (trusted) proxy, published as the README shows: it runs as uid 10001, /data
#     is 0700 and the database and server key 0600, the HEALTHCHECK reports healthy,
#     `davgate user add NAME --password-stdin` works through `podman exec`, and a WebDAV
#     PUT then GET returns the bytes; the health check fails when no server answers;
#   - with a mounted certificate and key it serves HTTPS and the HEALTHCHECK passes too.
#
# What it needs: root, podman (with crun, netavark or CNI), debootstrap, curl, openssl,
# network access to a Debian mirror and crates.io, and a Rust toolchain on the host
# (rustc --print sysroot, at least the rust-version in Cargo.toml). No registry: when
# docker.io/library/debian:bookworm-slim or docker.io/library/rust:1-bookworm is not in
# podman's store, it makes a local stand-in under that exact name (debootstrap'ed
# bookworm; the same plus gcc, libc6-dev, pkg-config and the host's toolchain), so the
# Containerfile is built as written. With registry access, `podman pull` both first and
# the real images are used instead.
#
# On this project's build VM podman also needed /etc/containers/containers.conf with
#   [containers] default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
#   [engine] runtime = "runc"
# (the runtime could not raise the limits to podman's defaults: "setrlimit ... Operation
# not permitted"; and crun refuses its hybrid cgroup v1/v2 layout).
#
# Environment: WORK (scratch directory, default /var/tmp/davgate-container-check),
# MIRROR (Debian mirror, default the host's apt mirror), PORT (host port for the
# checks, default 18080), KEEP=1 (leave the test containers running).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
WORK=${WORK:-/var/tmp/davgate-container-check}
PORT=${PORT:-18080}
TLS_PORT=$((PORT + 1))
IMAGE=localhost/davgate:container-check
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
RUST_IMAGE=docker.io/library/rust:1-bookworm
NAME=davgate-check
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then
        podman rm -f -v -t 2 "$NAME-proxy" "$NAME-tls" "$NAME-down" >/dev/null 2>&1 || true
        podman volume rm -f "$NAME-data" "$NAME-tls-data" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
cleanup

for tool in podman debootstrap curl openssl; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install podman debootstrap curl openssl)"
done

# The host's Debian mirror: the first URIs line of a deb822 source, else sources.list.
host_mirror() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -v -e security -e '^$' | head -n 1 || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(host_mirror)}

# ---------------------------------------------------------------------------------------
say "base images (local stand-ins when not in podman's store)"
if podman image exists "$DEBIAN_IMAGE"; then
    echo "$DEBIAN_IMAGE: present"
else
    rootfs=$WORK/rootfs-debian
    if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
        rm -rf "$rootfs"
        echo "debootstrap bookworm from $MIRROR"
        debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
            || fail "debootstrap (see $WORK/debootstrap.log)"
    fi
    # apt in the image uses the host's mirror and apt settings (a snapshot mirror may need
    # Check-Valid-Until "false"); the suites of the real image: bookworm, -updates, -security.
    rm -f "$rootfs/etc/apt/sources.list"
    if ls /etc/apt/sources.list.d/debian.sources >/dev/null 2>&1; then
        cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    else
        printf 'deb %s bookworm bookworm-updates main\n' "$MIRROR" >"$rootfs/etc/apt/sources.list"
    fi
    for conf in /etc/apt/apt.conf.d/*; do
        grep -q -e Check-Valid-Until -e Proxy "$conf" 2>/dev/null && cp "$conf" "$rootfs/etc/apt/apt.conf.d/"
    done
    # What makes the real image slim (debuerreotype): apt keeps no package cache, dpkg
    # installs no documentation, manual pages or translations.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
    mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
    tar -C "$rootfs" -c . | podman import \
        --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$DEBIAN_IMAGE" >/dev/null
    echo "$DEBIAN_IMAGE: imported from $rootfs"
fi

if podman image exists "$RUST_IMAGE"; then
    echo "$RUST_IMAGE: present"
else
    sysroot=$(rustc --print sysroot) || fail "no Rust toolchain on the host to put into $RUST_IMAGE"
    echo "toolchain: $("$sysroot/bin/rustc" --version) from $sysroot"
    # Like the official image: CARGO_HOME=/usr/local/cargo, tools on PATH from its bin/
    # (here links into the copied toolchain instead of rustup's proxies).
    podman rm -f "$NAME-rust" >/dev/null 2>&1 || true
    # The host's own CAs (/usr/local/share/ca-certificates) go in too: cargo must trust
    # crates.io through a TLS-inspecting egress proxy if the host sits behind one.
    mkdir -p "$WORK/local-ca"
    cp /usr/local/share/ca-certificates/*.crt "$WORK/local-ca/" 2>/dev/null || true
    podman run --name "$NAME-rust" --network=host -v "$sysroot:/mnt/toolchain:ro" \
        -v "$WORK/local-ca:/mnt/local-ca:ro" "$DEBIAN_IMAGE" sh -ec '
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            gcc libc6-dev pkg-config make ca-certificates git >/dev/null
        cp /mnt/local-ca/* /usr/local/share/ca-certificates/ 2>/dev/null || true
        update-ca-certificates >/dev/null
        rm -rf /var/lib/apt/lists/*
        mkdir -p /usr/local/rust /usr/local/cargo/bin
        cp -a /mnt/toolchain/bin /mnt/toolchain/lib /mnt/toolchain/libexec /usr/local/rust/
        for tool in /usr/local/rust/bin/*; do ln -s "$tool" /usr/local/cargo/bin/; done
        /usr/local/cargo/bin/cargo --version' || fail "making $RUST_IMAGE"
    podman commit -q \
        --change 'ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo' \
        --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$NAME-rust" "$RUST_IMAGE" >/dev/null
    podman rm "$NAME-rust" >/dev/null
    echo "$RUST_IMAGE: committed"
fi

# ---------------------------------------------------------------------------------------
say "podman build"
# --format docker: the OCI image format has no HEALTHCHECK, and podman's default is OCI.
# The crates.io downloads are cached in $WORK/cargo-registry between runs (a build-time
# volume; the Containerfile is used as written).
mkdir -p "$WORK/cargo-registry"
podman build --pull=never --network=host --format docker \
    -v "$WORK/cargo-registry:/usr/local/cargo/registry" \
    -f deploy/Containerfile -t "$IMAGE" . 2>&1 | tee "$WORK/build.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "podman build (see $WORK/build.log)"

# The build context after .dockerignore: COPY it into a scratch image and look.
printf 'FROM %s\nCOPY . /context\n' "$DEBIAN_IMAGE" \
    | podman build --pull=never -q -f - -t "$IMAGE-context" . >/dev/null || fail "context probe build"
podman run --rm "$IMAGE-context" sh -c 'cd /context && du -sh . && ls -A' | tee "$WORK/context.txt"
podman rmi -f "$IMAGE-context" >/dev/null
for left_out in target .git data; do
    ! grep -qx "$left_out" "$WORK/context.txt" || fail "$left_out/ is in the build context (.dockerignore)"
    [ -e "$left_out" ] && echo "$left_out/ is in the tree and was left out" \
        || echo "$left_out/ is not in the tree (nothing to leave out)"
done
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $((size / 1000000)) MB"
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
echo "image health check: $health"
case $health in *'davgate","health'* | *'/usr/local/bin/davgate health'*) ;; *) fail "the image has no HEALTHCHECK" ;; esac
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = 10001:10001 ] || fail "image user is '$user', not 10001:10001"

# ---------------------------------------------------------------------------------------
# Waits until `podman healthcheck run` passes (the image's HEALTHCHECK, run on demand:
# without systemd podman has no timer to run it every 30 s).
wait_healthy() {
    local name=$1 i
    for i in $(seq 60); do
        if podman healthcheck run "$name" >/dev/null 2>&1; then
            echo "$name: healthy after ${i}s: $(podman inspect --format '{{json .State.Health.Status}}' "$name" 2>/dev/null || true)"
            podman inspect --format '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$name" 2>/dev/null | tail -n 1 || true
            return 0
        fi
        [ "$(podman inspect --format '{{.State.Running}}' "$name")" = true ] || { podman logs "$name" | tail -n 20; fail "$name exited"; }
        sleep 1
    done
    podman logs "$name" | tail -n 20
    fail "$name: health check never passed"
}

# An account made with `podman exec … user add --password-stdin`, then PUT and GET.
dav_roundtrip() {
    local name=$1 base=$2 password body status got
    shift 2
    password=$(openssl rand -hex 16)
    printf '%s\n' "$password" | podman exec -i "$name" davgate user add alice --password-stdin \
        || fail "$name: user add"
    body="davgate container check $(date -u +%FT%TZ)"
    status=$(printf '%s' "$body" | curl -sS "$@" -o /dev/null -w '%{http_code}' -u "alice:$password" \
        -T - "$base/files/check.txt")
    echo "PUT $base/files/check.txt: $status"
    [ "$status" = 201 ] || [ "$status" = 204 ] || fail "PUT answered $status"
    got=$(curl -fsS "$@" -u "alice:$password" "$base/files/check.txt")
    echo "GET $base/files/check.txt: $got"
    [ "$got" = "$body" ] || fail "GET returned other bytes"
    status=$(curl -sS "$@" -o /dev/null -w '%{http_code}' -u "alice:not-$password" "$base/files/check.txt")
    echo "GET with a wrong password: $status"
    [ "$status" = 401 ] || fail "a wrong password got $status"
}

# The user the server runs as, and the modes and owners in /data.
check_user_and_modes() {
    local name=$1 ids ps_user modes
    ids=$(podman exec "$name" id)
    echo "id: $ids"
    [[ $ids == "uid=10001(davgate) gid=10001(davgate) groups=10001(davgate)" ]] || fail "not running as 10001"
    ps_user=$(podman top "$name" user huser args | tail -n +2)
    echo "process: $ps_user"

    modes=$(podman exec "$name" sh -c 'cd /data && stat -c "%a %U:%G %F %n" . * | sort -k4')
    printf '%s\n' "$modes"
    awk '$4 == "." && $1 != "700" { bad = 1 } END { exit bad }' <<<"$modes" || fail "/data is not 0700"
    awk '$3 == "regular" && $1 != "600" { bad = 1 } END { exit bad }' <<<"$modes" || fail "a file in /data is not 0600"
    awk '$2 != "davgate:davgate" { bad = 1 } END { exit bad }' <<<"$modes" || fail "something in /data is not davgate's"
    grep -q ' davgate.db$' <<<"$modes" && grep -q ' server.key$' <<<"$modes" || fail "no database or server key in /data"
    # And below it (the blobs): files 0600, directories 0700, all davgate's.
    modes=$(podman exec "$name" find /data \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \) -o ! -user davgate -o ! -group davgate)
    [ -z "$modes" ] || fail "in /data, not 0600/0700 or not davgate's: $modes"
}

say "neither TLS nor DAVGATE_TRUSTED_PROXY: refuses to serve"
set +e
refusal=$(timeout 60 podman run --rm --name "$NAME-refuse" "$IMAGE" 2>&1)
refusal_status=$?
set -e
podman rm -f -v "$NAME-refuse" >/dev/null 2>&1 || true
printf '%s\n' "$refusal" | tail -n 3
[ "$refusal_status" -ne 0 ] && [ "$refusal_status" -ne 124 ] || fail "the container served (or hung) without TLS or a trusted proxy"
grep -q 'refusing to serve plain HTTP on 0.0.0.0:8080' <<<"$refusal" || fail "no clear refusal message"

say "behind a trusted proxy, published on 127.0.0.1:$PORT as the README shows"
podman volume create "$NAME-data" >/dev/null
podman run -d --name "$NAME-proxy" -v "$NAME-data:/data" -p "127.0.0.1:$PORT:8080" \
    -e DAVGATE_TRUSTED_PROXY=true -e DAVGATE_CLIENT_ADDRESS_HEADER=X-Forwarded-For "$IMAGE" >/dev/null
wait_healthy "$NAME-proxy"

check_user_and_modes "$NAME-proxy"
dav_roundtrip "$NAME-proxy" "http://127.0.0.1:$PORT"
check_user_and_modes "$NAME-proxy"

say "no server answering: the health check fails"
# Configured like the proxied container, but running sleep instead of the server.
podman run -d --name "$NAME-down" -e DAVGATE_TRUSTED_PROXY=true --entrypoint sleep "$IMAGE" 600 >/dev/null
if podman healthcheck run "$NAME-down"; then fail "healthy without a server"; fi
down=$(podman exec "$NAME-down" davgate health 2>&1 || true)
echo "davgate health: $down"
grep -q 'http://127.0.0.1:8080/healthz: ' <<<"$down" || fail "no clear message from davgate health"
podman rm -f -v -t 0 "$NAME-down" >/dev/null

say "HTTPS with a mounted certificate, published on 127.0.0.1:$TLS_PORT"
tls=$WORK/tls
rm -rf "$tls" && mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$tls/privkey.pem" -out "$tls/fullchain.pem" 2>/dev/null
# The key must be readable by the image's user: certbot's keys are root's and 0600.
chown 10001:10001 "$tls/privkey.pem" && chmod 0600 "$tls/privkey.pem"
podman volume create "$NAME-tls-data" >/dev/null
podman run -d --name "$NAME-tls" -v "$NAME-tls-data:/data" -v "$tls:/tls:ro" -p "127.0.0.1:$TLS_PORT:8443" \
    -e DAVGATE_LISTEN=0.0.0.0:8443 -e DAVGATE_TLS_CERT=/tls/fullchain.pem \
    -e DAVGATE_TLS_KEY=/tls/privkey.pem "$IMAGE" >/dev/null
wait_healthy "$NAME-tls"
curl -fsS --cacert "$tls/fullchain.pem" "https://localhost:$TLS_PORT/healthz" -o /dev/null \
    || fail "HTTPS /healthz with the mounted certificate"
echo "https://localhost:$TLS_PORT/healthz: 200 with the mounted certificate"
dav_roundtrip "$NAME-tls" "https://localhost:$TLS_PORT" --cacert "$tls/fullchain.pem"
check_user_and_modes "$NAME-tls"

say "all checks passed ($IMAGE, $((size / 1000000)) MB)"
