// Embedded Neo4j Community server with the Bolt connector, for machines without Docker.
//
// Run as a single-source Java program (Java 17+), with the jars resolved by ./pom.xml:
//
//   java -Xmx1g -cp '<jars>/*' Neo4jServer.java --home <dir> --port 7687 [--logs <dir>] [--pagecache 256m]
//
// The initial password of user `neo4j` is taken from the environment variable NEO4J_PASSWORD
// (default `cdp-local-password`); set NEO4J_AUTH=none to disable authentication.
// Prints `NEO4J_READY bolt://127.0.0.1:<port>` to stdout once the default database is available,
// then blocks until the process is terminated (SIGTERM/SIGINT run a clean shutdown).
//
// Normally started by infra/local/src/neo4j-server.ts (`node infra/local/cdp-infra.mjs up`).

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;

public class Neo4jServer {

    private static final String DEFAULT_PASSWORD = "cdp-local-password";

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        Path home = Path.of(args.getOrDefault("home", "neo4j-home")).toAbsolutePath().normalize();
        int port = Integer.parseInt(args.getOrDefault("port", "7687"));
        String host = args.getOrDefault("host", "127.0.0.1");
        Path logs = Path.of(args.getOrDefault("logs", home.resolve("logs").toString())).toAbsolutePath().normalize();
        long pagecache = parseBytes(args.getOrDefault("pagecache", "256m"));

        String authEnv = System.getenv().getOrDefault("NEO4J_AUTH", "");
        boolean authEnabled = !"none".equalsIgnoreCase(authEnv.trim());
        String password = System.getenv().getOrDefault("NEO4J_PASSWORD", DEFAULT_PASSWORD);
        if (authEnabled && password.length() < 8) {
            fail("NEO4J_PASSWORD must be at least 8 characters long");
        }

        Files.createDirectories(home);
        Files.createDirectories(logs);

        log("starting Neo4j (home=" + home + ", bolt=" + host + ":" + port + ", auth=" + (authEnabled ? "on" : "off") + ")");
        long t0 = System.nanoTime();

        DatabaseManagementService managementService = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                // Listening on every interface (a container): advertise "localhost", Neo4j's own default.
                .setConfig(BoltConnector.advertised_address, new SocketAddress("0.0.0.0".equals(host) ? "localhost" : host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, authEnabled)
                .setConfig(GraphDatabaseSettings.logs_directory, logs)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                // keep local transaction logs small
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "100M size")
                // local dev server: don't idle 2x5 s in Netty's graceful shutdown
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutting down");
            try {
                managementService.shutdown();
            } catch (Throwable t) {
                log("error during shutdown: " + t);
            }
            System.out.println("NEO4J_STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "neo4j-shutdown"));

        try {
            GraphDatabaseService db = managementService.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
                fail("default database did not become available within 2 minutes");
            }
            if (authEnabled) {
                ensurePassword(managementService.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
            }
            try (Transaction tx = db.beginTx(); Result r = tx.execute("RETURN 1 AS ok")) {
                r.next();
                tx.commit();
            }
        } catch (Throwable t) {
            System.err.println("[neo4j] startup failed: " + t);
            t.printStackTrace();
            System.exit(1);
        }

        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("NEO4J_READY bolt://" + host + ":" + port + " (" + ms + " ms)");
        System.out.flush();

        // Block until the JVM is asked to exit; the shutdown hook stops the DBMS.
        stopped.await();
    }

    /** Sets the password of user neo4j (and clears "change required"); a no-op when it is already set. */
    private static void ensurePassword(GraphDatabaseService system, String password) {
        try {
            Map<String, Object> params = new HashMap<>();
            params.put("pw", password);
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", params);
            log("password of user neo4j set");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("Old password and new password cannot be the same")) {
                // already set on an earlier start; make sure no change is pending
                system.executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
                return;
            }
            throw e;
        }
    }

    private static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) fail("unexpected argument: " + a);
            String key = a.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else {
                if (i + 1 >= argv.length) fail("missing value for " + a);
                value = argv[++i];
            }
            out.put(key, value);
        }
        return out;
    }

    private static long parseBytes(String s) {
        String v = s.trim().toLowerCase();
        long mult = 1;
        if (v.endsWith("g")) { mult = ByteUnit.gibiBytes(1); v = v.substring(0, v.length() - 1); }
        else if (v.endsWith("m")) { mult = ByteUnit.mebiBytes(1); v = v.substring(0, v.length() - 1); }
        else if (v.endsWith("k")) { mult = ByteUnit.kibiBytes(1); v = v.substring(0, v.length() - 1); }
        return Long.parseLong(v) * mult;
    }

    private static void log(String msg) {
        System.out.println("[neo4j] " + msg);
        System.out.flush();
    }

    private static void fail(String msg) {
        System.err.println("[neo4j] " + msg);
        System.exit(2);
    }
}
