#!/bin/bash
# Kafka's own bin/kafka-broker-api-versions.sh runs this class; the Maven jars have no bin/ folder.
exec java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.rootLogger.level=OFF -cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
