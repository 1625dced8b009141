# Shared by opensearch_start.sh, elasticsearch_start.sh and their stop scripts (sourced, not run): build the Java
# launcher of a search node once, wait for the started node to answer, stop it by its recorded pid.

# build_launcher SRC CACHE MAVEN_ARGS...: compile the launcher in SRC (pom.xml + src/) into a build directory
# under CACHE, from a copy outside the repository (target/ and the local Maven repository never land in the
# work tree), and print that directory. The build is keyed by the checksum of the sources and of the Maven
# arguments, so an edit rebuilds.
build_launcher() {
    local src=$1 cache=$2; shift 2
    local stamp build
    stamp=$( (cat "$src/pom.xml" "$src"/src/main/java/ci/*.java; echo "$*") | sha256sum | cut -c1-16)
    build=$cache/build-$stamp
    if [ ! -f "$build/ready" ]; then
        # Debian's maven brings its default JDK (17 on bookworm), which both nodes run on.
        if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null || {
                apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null; }
        fi
        # Builds of older launcher sources are of no further use.
        find "$cache" -maxdepth 1 -name 'build-*' ! -name "build-$stamp" -exec rm -rf {} + 2>/dev/null || true
        rm -rf "$build" && mkdir -p "$build"
        cp -r "$src"/pom.xml "$src"/src "$build"/
        (cd "$build" && mvn -q -B -Dmaven.repo.local="$cache/m2" "$@") >"$build/build.log" 2>&1 || {
            echo "building the launcher in $src failed:" >&2; tail -60 "$build/build.log" >&2; return 1; }
        touch "$build/ready"
    fi
    echo "$build"
}

# wait_for_node NAME URL PIDFILE LOG: poll URL's cluster health until yellow; fail with the log's tail if the
# process dies or 180 s pass.
wait_for_node() {
    local name=$1 url=$2 pidfile=$3 log=$4
    for _ in $(seq 1 360); do
        if curl -sf --max-time 2 "$url/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$(cat "$pidfile")" 2>/dev/null || {
            echo "$name exited during start:" >&2; tail -60 "$log" >&2; return 1; }
        sleep 0.5
    done
    echo "$name did not answer within 180 s:" >&2; tail -60 "$log" >&2
    return 1
}

# stop_node PIDFILE: TERM the recorded process (only it), KILL it after 30 s, forget the pid.
stop_node() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
}
