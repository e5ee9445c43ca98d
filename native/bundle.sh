#!/usr/bin/env bash
# native/bundle.sh [OUT=bundle] — a self-contained folder to carry to a GPU host that has a CUDA
# driver but no JDK and no Maven: a stripped jlink runtime, every jar (the library, its test
# classes, all dependencies with linux-x86_64 JCuda natives, the JUnit console launcher), the
# test classes, the kernel sources and README (read by tests), run-tests.sh and run-java.sh, and
# gpu-check.sh (the first-contact check of a GPU host, with its report script and the benchmark scripts).
# See native/BUNDLE.md. Run it from anywhere on the dev machine; it runs Maven itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-bundle}
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
JUNIT_CONSOLE_VERSION=1.11.4
LIMIT_MB=61
# The modules the jars need (checked with jdeps below, which adds any it finds):
# java.desktop for the charts (JFreeChart, AWT headless), jdk.unsupported for JNA / JCuda,
# java.management + jdk.management for the JUnit launcher and the CLI's memory report,
# jdk.zipfs for the launcher's --scan-classpath over a jar (without it, it finds no test).
MODULES="java.base,java.logging,java.desktop,jdk.unsupported,java.management,jdk.management,jdk.zipfs"

say() { echo "[bundle] $*"; }

# ---------------------------------------------------------------- the JDK whose jlink builds the runtime
# $JAVA_HOME's, else the jlink on the PATH when its JDK has jmods (Debian's openjdk-17-jmods: the
# smaller runtime, ~44 MB), else Temurin 25 (links from its run-time image, ~56 MB: over budget
# together with the jars unless trimmed further).
has_jmods() { [[ -d "$1/jmods" ]] && ls "$1/jmods"/java.base.jmod >/dev/null 2>&1; }
PATH_JDK=""
if command -v jlink >/dev/null; then
    PATH_JDK=$(dirname "$(dirname "$(readlink -f "$(command -v jlink)")")")
fi
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/jlink" ]]; then
    JDK="$JAVA_HOME"
elif [[ -n "$PATH_JDK" ]] && has_jmods "$PATH_JDK"; then
    JDK="$PATH_JDK"
elif [[ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/jlink ]]; then
    JDK=/usr/lib/jvm/temurin-25-jdk-amd64
elif [[ -n "$PATH_JDK" ]]; then
    JDK="$PATH_JDK"
else
    echo "[bundle] no jlink: set JAVA_HOME to a JDK 17 or newer" >&2
    exit 1
fi
JDK_MAJOR=$("$JDK/bin/jlink" --version | cut -d. -f1)
if (( JDK_MAJOR < 17 )); then
    echo "[bundle] $JDK is Java $JDK_MAJOR; the library needs 17 or newer" >&2
    exit 1
fi
if (( JDK_MAJOR >= 21 )); then COMPRESS="--compress=zip-6"; else COMPRESS="--compress=2"; fi
say "JDK $JDK (jlink $("$JDK/bin/jlink" --version))"

# ---------------------------------------------------------------- build and collect the jars
cd "$ROOT"
say "mvn package (kernels, library, test classes)"
mvn -q package -DskipTests
say "mvn dependency:copy-dependencies"
rm -rf target/deps
# Runtime scope: what the library and the CLI need (JUnit comes with the console launcher). Spark is
# `provided` (hundreds of MB, supplied by spark-submit on a cluster): not carried, and its tests are
# left out below.
mvn -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/deps
say "mvn dependency:copy junit-platform-console-standalone:$JUNIT_CONSOLE_VERSION"
mkdir -p target/bundle-tools
mvn -q dependency:copy \
    -Dartifact=org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE_VERSION \
    -DoutputDirectory=target/bundle-tools
CONSOLE=target/bundle-tools/junit-platform-console-standalone-$JUNIT_CONSOLE_VERSION.jar

# the library jar itself: no classifier (-sources, -javadoc after an install) and not rnn4j-cli.jar
MAIN_JAR=$(ls target/rnn4j-*.jar | grep -E '/rnn4j-[0-9][0-9.]*(-SNAPSHOT)?\.jar$' | head -n 1)
if [[ -z "$MAIN_JAR" ]]; then
    echo "[bundle] mvn package made no target/rnn4j-*.jar" >&2
    exit 1
fi
# (grep -c, not -q: with pipefail, grep -q quitting early fails unzip with SIGPIPE, a false warning)
if ! unzip -l "$MAIN_JAR" | grep -c 'org/rnn4j/kernels/.*\.fatbin' > /dev/null; then
    say "WARNING: $MAIN_JAR has no kernels (nvcc missing here?); the bundle will report 'kernels not built'"
fi

rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/tools"
cp "$MAIN_JAR" "$OUT/lib/rnn4j.jar"
# Test classes stay a folder, not a jar: tests that open their resources as files
# (Path.of(url.toURI())) and a class-path scan both work on a folder.
cp -r target/test-classes "$OUT/test-classes"
rm -rf "$OUT/test-classes/org/rnn4j/spark"
# and every other test class that uses Spark (FuzzTest's Spark data path): it would not load without it
for cls in $(grep -rl --include='*.class' 'org/apache/spark' "$OUT/test-classes"); do
    say "left out (uses Spark): ${cls#"$OUT/test-classes/"}"
    rm -f "$cls" "${cls%.class}"\$*.class
done
# The demos' data sets live in the CLI jar, not in the library jar: a folder on both class paths here.
mkdir -p "$OUT/demo-data" && cp -r src/main/resources/data "$OUT/demo-data/data"
cp "$CONSOLE" "$OUT/tools/"
for jar in target/deps/*.jar; do
    name=$(basename "$jar")
    case "$name" in
        # the console launcher carries JUnit itself; a second copy of the Jupiter engine on the
        # class path makes the launcher refuse to start (two engines with the same id)
        junit-*|opentest4j-*|apiguardian-*) continue ;;
        # JCuda's NVPTX compiler and NVRTC bindings are unused (24 MB): keep the driver and runtime
        jcuda-natives-*)
            tmp=$(mktemp -d)
            (cd "$tmp" && unzip -q "$ROOT/$jar" && rm -f lib/libJNvPTXCompiler-* lib/libJNvrtc-*)
            "$JDK/bin/jar" --create --file "$OUT/lib/$name" -C "$tmp" .
            rm -rf "$tmp"
            ;;
        *) cp "$jar" "$OUT/lib/" ;;
    esac
done
# Files that tests read relative to the working directory (run-tests.sh runs in the bundle).
cp -r kernels "$OUT/kernels"
cp README.md "$OUT/" 2>/dev/null || true
if [[ -d benchmarks/scripts ]]; then
    mkdir -p "$OUT/benchmarks" && cp -r benchmarks/scripts "$OUT/benchmarks/scripts"
fi
# The GPU host check (CONTRIBUTING.md, "GPU tests and benchmarks on a GPU host") and what it reports with.
cp native/gpu-check.sh native/gpu_check_report.py "$OUT/"
# The commit the bundle was built from, for the logs of a host without git.
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain -- src kernels native pom.xml benchmarks/scripts 2>/dev/null)" ]]; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
echo "$COMMIT" > "$OUT/COMMIT"

# ---------------------------------------------------------------- modules: the list above plus what jdeps finds
for jar in "$OUT"/lib/*.jar "$OUT/tools"/*.jar "$OUT/test-classes"; do
    found=$("$JDK/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 17 "$jar" 2>/dev/null \
            | tail -n 1 | grep -E '^[a-z][a-z0-9.,]*$' || true)
    if [[ -n "$found" ]]; then
        MODULES="$MODULES,$found"
    fi
done
MODULES=$(echo "$MODULES" | tr ',' '\n' | sort -u | paste -sd, -)
say "jlink modules: $MODULES"

# ---------------------------------------------------------------- the runtime
STRIP_NATIVE=""
if "$JDK/bin/jlink" --list-plugins 2>/dev/null | grep -q -- '--strip-native-debug-symbols'; then
    STRIP_NATIVE="--strip-native-debug-symbols=exclude-debuginfo-files"
fi
# Charts are drawn headless (run-java.sh sets java.awt.headless): no X11 toolkit, sound or splash screen.
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages \
    $COMPRESS $STRIP_NATIVE --exclude-files='**libsplashscreen.so,**libjsound.so,**libawt_xawt.so' \
    --output "$OUT/runtime"
if command -v strip >/dev/null; then
    find "$OUT/runtime" -name '*.so' -exec strip --strip-unneeded {} + 2>/dev/null || true
fi

# ---------------------------------------------------------------- scripts
cat > "$OUT/run-tests.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the whole test suite with the JUnit console launcher; prints "N passed, N failed, N skipped"
# and exits with the number of failed tests (capped at 255). Extra arguments go to the launcher,
# e.g. --select-class=org.rnn4j.cuda.CudaEngineProbeTest, or --include-classname='.*Gpu.*'.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"    # tests that read kernels/ find it here
CP=$(printf '%s:' "$HERE/test-classes" "$HERE/demo-data" "$HERE"/lib/*.jar)
CONSOLE=$(ls "$HERE"/tools/junit-platform-console-standalone-*.jar | head -n 1)
if [[ $# -eq 0 ]]; then set -- --scan-classpath "$HERE/test-classes"; fi
LOG=$(mktemp)
"$HERE/runtime/bin/java" -Djava.awt.headless=true ${JAVA_OPTS:-} -jar "$CONSOLE" execute --class-path "${CP%:}" \
    --disable-banner --details=tree "$@" 2>&1 | tee "$LOG"
launcher=${PIPESTATUS[0]}
count() { grep -E "\[ *[0-9]+ tests $1" "$LOG" | head -n 1 | grep -oE '[0-9]+' | head -n 1; }
passed=$(count successful); failed=$(count failed); skipped=$(count skipped); aborted=$(count aborted)
rm -f "$LOG"
if [[ -z "$failed" ]]; then
    echo "run-tests: the launcher printed no summary (exit $launcher)"
    exit $(( launcher == 0 ? 1 : launcher ))
fi
echo "${passed:-0} passed, ${failed:-0} failed, $(( ${skipped:-0} + ${aborted:-0} )) skipped"
if (( ${passed:-0} + failed + ${skipped:-0} + ${aborted:-0} == 0 )); then
    echo "run-tests: no test ran"
    exit 1
fi
exit $(( failed > 255 ? 255 : failed ))
EOF
cat > "$OUT/run-java.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the rnn4j CLI with the bundle's runtime and class path: run-java.sh info, run-java.sh --help, ...
# Another main class: MAIN=org.example.Main run-java.sh ARGS.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CP=$(printf '%s:' "$HERE/demo-data" "$HERE"/lib/*.jar)
exec "$HERE/runtime/bin/java" -Djava.awt.headless=true ${JAVA_OPTS:-} -cp "${CP%:}" "${MAIN:-org.rnn4j.cli.Main}" "$@"
EOF
chmod +x "$OUT/run-tests.sh" "$OUT/run-java.sh"

# The device tool carries the working tree (tracked and untracked files git does not ignore) plus the
# bundle, 64 MiB at most: both must stay under LIMIT_MB (MiB), which keeps a margin.
bytes() { du -sb "$1" | cut -f1; }
TREE_BYTES=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -n 1 | cut -f1)
BUNDLE_BYTES=$(bytes "$OUT")
SIZE_MB=$(( (TREE_BYTES + BUNDLE_BYTES + 1048575) / 1048576 ))
say "done: $OUT: $(( BUNDLE_BYTES / 1048576 )) MiB; with the working tree ($(( TREE_BYTES / 1024 )) KiB) ${SIZE_MB} MiB of the device tool's 64"
if (( SIZE_MB > LIMIT_MB )); then
    echo "[bundle] the bundle and the working tree are ${SIZE_MB} MiB together, over the ${LIMIT_MB} MiB budget" >&2
    exit 1
fi
