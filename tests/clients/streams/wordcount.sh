#!/usr/bin/env bash
# Kafka Streams exactly-once word count against the broker in BOOTSTRAP (host:port); see
# WordCount.java. Assembles kafka-streams 4.1.1 and its dependencies from Maven Central into
# .cache/streams-libs on first use (again when pom.xml changes), apart from the jars of the
# Apache Kafka fixture, then runs the scenario: prints PASS and exits 0, or FAIL and exits 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
libs="$root/.cache/streams-libs"
if ! { [ -f "$libs/.complete" ] && cmp -s "$here/pom.xml" "$libs/.complete"; }; then
  echo "wordcount.sh: assembling Kafka Streams from Maven Central into $libs" >&2
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  cp "$here/pom.xml" "$libs/.complete"
fi
# The driver and the app it starts (same command line) each get a small heap: two JVMs and a
# broker share the machine. slf4j-simple logs Streams' warnings only, into the app's log file.
exec java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$libs/*" "$here/WordCount.java"
