#!/usr/bin/env bash
# What a library user does, against the artifact that `mvn install` put into the local repository:
# a fresh project made of README.md's "Using it from Maven" snippet and README.md's example, built with
# Maven and run. It also checks that the user's class path holds only what the library needs.
# Usage: .ci/consumer.sh [WORKDIR]   (run from the repository root, after `mvn install`)
set -euo pipefail
repo=$(pwd)
work=${1:-$(mktemp -d /tmp/rnn4j-consumer.XXXXXX)}
mkdir -p "$work/src/main/java"

# The two README blocks, as a user would copy them.
python3 - "$repo/README.md" "$work" <<'PY'
import re, sys, pathlib
readme = pathlib.Path(sys.argv[1]).read_text()
work = pathlib.Path(sys.argv[2])
maven = readme.split("## Using it from Maven", 1)[1]
dependency = re.search(r"```xml\n(.*?)```", maven, re.S).group(1)
example = re.search(r"```java\n(.*?)```", readme, re.S).group(1)
(work / "src/main/java/Example.java").write_text(example)
(work / "pom.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>rnn4j-consumer</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
{dependency}  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.13.0</version>
      </plugin>
    </plugins>
  </build>
</project>
""")
PY

cd "$work"
mvn -B -q compile
mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath -Dmdep.outputFile=classpath.txt
mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:list -DoutputFile=dependencies.txt -DexcludeTransitive=false

# Only the library and what its engines need reach a user (no CLI, chart, Spark or test libraries).
unexpected=$(grep -E '^ +[^ ]+:[^ ]+:' dependencies.txt | sed -E 's/^ +//' \
    | grep -v -E '^(org\.rnn4j:rnn4j|org\.jcuda:(jcuda|jcublas)(-natives)?|net\.java\.dev\.jna:jna):' || true)
if [ -n "$unexpected" ]; then
    echo "consumer: a project depending on rnn4j gets libraries it should not:" >&2
    echo "$unexpected" >&2
    exit 1
fi

out=$(java -cp "target/classes:$(cat classpath.txt)" Example)
echo "$out"
accuracy=$(echo "$out" | sed -n 's/^validation accuracy //p')
python3 -c "import sys; a = float('$accuracy'); sys.exit(0 if a > 0.85 else 'consumer: the README example learned nothing: accuracy %s' % a)"
echo "consumer: README's dependency and example build and run against the installed rnn4j ($work)"
