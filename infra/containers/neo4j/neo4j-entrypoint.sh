#!/bin/bash
# Starts the embedded Neo4j (infra/local/neo4j/Neo4jServer.java) from the neo4j image's variables:
#   NEO4J_AUTH=neo4j/<password> (or none), NEO4J_server_memory_heap_initial__size,
#   NEO4J_server_memory_heap_max__size, NEO4J_server_memory_pagecache_size.
set -euo pipefail
auth="${NEO4J_AUTH:-}"
if [ "$auth" = "none" ]; then
  export NEO4J_AUTH=none
elif [ -n "$auth" ]; then
  [ "${auth%%/*}" = "neo4j" ] || { echo "NEO4J_AUTH must be neo4j/<password> or none" >&2; exit 1; }
  export NEO4J_PASSWORD="${auth#*/}"
  unset NEO4J_AUTH
fi
# The JVM is PID 1 and gets SIGTERM itself: the launcher's shutdown hook stops the DBMS cleanly.
exec java \
  "-Xms${NEO4J_server_memory_heap_initial__size:-512m}" "-Xmx${NEO4J_server_memory_heap_max__size:-1g}" \
  -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC -Djdk.nio.maxCachedBufferSize=1024 \
  -Dio.netty.tryReflectionSetAccessible=true -Dlog4j2.disable.jmx=true \
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  -cp '/opt/neo4j/classes:/opt/neo4j/libs/*' Neo4jServer \
  --home /data --logs /data/logs --host 0.0.0.0 --port 7687 \
  --pagecache "${NEO4J_server_memory_pagecache_size:-256m}"
