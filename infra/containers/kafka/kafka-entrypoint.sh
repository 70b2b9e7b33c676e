#!/bin/bash
# Starts one KRaft node from KAFKA_* variables, the convention of the apache/kafka image:
# KAFKA_LISTENER_SECURITY_PROTOCOL_MAP -> listener.security.protocol.map (a double underscore
# stands for a dash, a triple one for an underscore). CLUSTER_ID formats an empty log directory.
set -euo pipefail
CONF_DIR="${KAFKA_CONF_DIR:-/tmp/kafka-config}"
mkdir -p "$CONF_DIR"
PROPS="$CONF_DIR/server.properties"
: > "$PROPS"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_JVM_OPTS|KAFKA_CONF_DIR) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key//___/_U_}"; key="${key//__/-}"; key="${key//_U_/@}"
  key="$(tr 'A-Z_' 'a-z.' <<< "$key")"; key="${key//@/_}"
  printf '%s=%s\n' "$key" "$value" >> "$PROPS"
done < <(env)
cat > "$CONF_DIR/log4j2.properties" <<'LOG'
status = error
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.server.name = kafka.server.BrokerServer
logger.server.level = INFO
LOG
# shellcheck disable=SC2086
# log4j2 must not stop itself in a shutdown hook of its own: the broker logs until its shutdown ends.
JAVA=(java ${KAFKA_HEAP_OPTS} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false
  "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.properties" ${KAFKA_JVM_OPTS:-} -cp '/opt/kafka/libs/*')
LOG_DIR="${KAFKA_LOG_DIRS%%,*}"
if [ ! -f "$LOG_DIR/meta.properties" ]; then
  [ -n "${CLUSTER_ID:-}" ] || { echo "CLUSTER_ID is required to format $LOG_DIR" >&2; exit 1; }
  # A static quorum (controller.quorum.voters) is formatted as it is; a dynamic one as its first voter.
  standalone=(--standalone)
  grep -q '^controller.quorum.voters=' "$PROPS" && standalone=()
  "${JAVA[@]}" kafka.tools.StorageTool format "--cluster-id=$CLUSTER_ID" -c "$PROPS" "${standalone[@]}" --ignore-formatted
fi
# The JVM is PID 1 and gets SIGTERM itself: Kafka's shutdown hook runs a controlled shutdown.
exec "${JAVA[@]}" kafka.Kafka "$PROPS"
