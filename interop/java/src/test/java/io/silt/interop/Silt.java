package io.silt.interop;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A silt cluster for one test class: agents started from the built binary as
 * separate processes on loopback ports, all on one bucket (a directory, or a
 * prefix in a versitygw bucket). Agents can be stopped gracefully (SIGTERM),
 * crashed (SIGKILL) and restarted on the same ports and bucket.
 */
public final class Silt implements AutoCloseable {

    /** Where a cluster keeps its data. */
    public enum Backend { FILE, S3 }

    /** The silt executable: -Dsilt.binary, set by the Makefile. */
    static final Path BINARY = Path.of(System.getProperty("silt.binary", "../../bin/silt")).toAbsolutePath().normalize();

    /** Agent logs, file buckets and tool output go under here. */
    static final Path WORK = Path.of(System.getProperty("silt.workdir", "target/silt-work")).toAbsolutePath().normalize();

    /**
     * Agents in every cluster the tests start: -Dsilt.agents (the pom's
     * default is 3), or SILT_AGENTS for make. The kill -9 test kills them in
     * turn; with one agent each kill takes the whole cluster down briefly.
     */
    public static final int AGENTS = Integer.getInteger("silt.agents", 3);

    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(2)).build();

    private static volatile Boolean gossipFlags;

    private final String name;
    private final Path dir;
    private final String bucket;
    private final Map<String, String> env = new HashMap<>();
    private final List<String> extraFlags;
    private final List<Agent> agents = new ArrayList<>();

    private Silt(String name, Backend backend, List<String> extraFlags) throws IOException {
        this.name = name;
        this.dir = WORK.resolve(name + "-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(dir);
        this.extraFlags = List.copyOf(extraFlags);
        if (backend == Backend.S3) {
            S3Server s3 = S3Server.shared();
            this.bucket = "s3://" + S3Server.BUCKET + "/" + dir.getFileName();
            env.putAll(s3.env());
        } else {
            this.bucket = dir.resolve("bucket").toString();
        }
    }

    /**
     * Starts a cluster of n agents and waits until each is ready. extraFlags
     * go to every agent after the harness's own.
     */
    public static Silt start(String name, Backend backend, int n, String... extraFlags) throws Exception {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException("no silt binary at " + BINARY + " (build it with `make build`, or run `make interop-java`)");
        }
        if (n > 1 && !supportsGossip()) {
            throw new IllegalStateException(n + " agents asked for, but " + BINARY
                    + " has no --gossip/--join flags yet: run with -Dsilt.agents=1 (SILT_AGENTS=1)");
        }
        Silt silt = new Silt(name, backend, List.of(extraFlags));
        try {
            for (int i = 0; i < n; i++) {
                silt.agents.add(silt.new Agent(i));
            }
            for (Agent a : silt.agents) {
                a.start();
                a.awaitReady(Duration.ofSeconds(60));
            }
        } catch (Exception e) {
            silt.killAll();
            throw e;
        }
        return silt;
    }

    /** Starts a cluster of {@link #AGENTS} agents on the test defaults. */
    public static Silt start(String name, Backend backend) throws Exception {
        return start(name, backend, AGENTS);
    }

    public String name() {
        return name;
    }

    public Path dir() {
        return dir;
    }

    public String bucket() {
        return bucket;
    }

    public List<Agent> agents() {
        return agents;
    }

    public Agent agent(int i) {
        return agents.get(i);
    }

    /** bootstrap.servers: every agent's Kafka address, alive or not. */
    public String bootstrap() {
        return agents.stream().map(Agent::kafkaAddress).collect(Collectors.joining(","));
    }

    /** Whether the binary takes --gossip and --join (clustering has landed). */
    static boolean supportsGossip() {
        Boolean g = gossipFlags;
        if (g == null) {
            try {
                Process p = new ProcessBuilder(BINARY.toString(), "agent", "--help").redirectErrorStream(true).start();
                String help = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(10, TimeUnit.SECONDS);
                g = help.contains("--gossip") && help.contains("--join");
            } catch (IOException | InterruptedException e) {
                g = false;
            }
            gossipFlags = g;
        }
        return g;
    }

    /** Stops every running agent with SIGTERM and checks each exits 0. */
    @Override
    public void close() throws Exception {
        List<String> bad = new ArrayList<>();
        for (Agent a : agents) {
            if (a.alive()) {
                int code = a.stop(Duration.ofSeconds(30));
                if (code != 0) {
                    bad.add(a.nodeName + " exited " + code + "\n" + a.logTail(40));
                }
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalStateException("agents did not stop cleanly on SIGTERM:\n" + String.join("\n", bad));
        }
    }

    private void killAll() {
        for (Agent a : agents) {
            if (a.alive()) {
                a.kill9();
            }
        }
    }

    static int freePort() throws IOException {
        // Ports the system hands out for port 0 are its ephemeral ports,
        // which it also gives every outgoing connection, and it may hand
        // the same one out twice before either is bound: a CI run saw an
        // agent's HTTP port taken by another's gossip, and another's Kafka
        // port taken before it started. An agent also keeps its ports while
        // it is down between a kill and a restart. So the ports come from
        // below Linux's ephemeral range (32768-60999 by default), where
        // nothing is assigned behind our back, and none twice in this JVM.
        for (int attempt = 0; attempt < 1000; attempt++) {
            int port = PORT_LOW + RANDOM.nextInt(PORT_HIGH - PORT_LOW);
            if (!ISSUED_PORTS.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true);
                s.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                return port;
            } catch (IOException inUse) {
                // Someone else's: try another.
            }
        }
        throw new IOException("no free port in " + PORT_LOW + "-" + PORT_HIGH + " after 1000 tries");
    }

    /** The range freePort draws from: below the system's ephemeral ports. */
    private static final int PORT_LOW = 20000;
    private static final int PORT_HIGH = 26000; // 26000-32000 is the Python harness's
    private static final java.util.Random RANDOM = new java.util.Random();

    /** Every port freePort has handed out. */
    private static final java.util.Set<Integer> ISSUED_PORTS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** One agent process; it keeps its ports and name across restarts. */
    public final class Agent {
        final int index;
        final String nodeName;
        final int kafkaPort;
        final int httpPort;
        final int gossipPort;
        final Path log;
        private Process proc;
        private int starts;

        Agent(int index) throws IOException {
            this.index = index;
            this.nodeName = name.toLowerCase().replaceAll("[^a-z0-9-]", "-") + "-" + index;
            this.kafkaPort = freePort();
            this.httpPort = freePort();
            this.gossipPort = freePort();
            this.log = dir.resolve("agent-" + index + ".log");
        }

        public String kafkaAddress() {
            return "127.0.0.1:" + kafkaPort;
        }

        public String gossipAddress() {
            return "127.0.0.1:" + gossipPort;
        }

        public String nodeName() {
            return nodeName;
        }

        public Path log() {
            return log;
        }

        List<String> command() {
            List<String> cmd = new ArrayList<>(List.of(
                    BINARY.toString(), "agent",
                    "--bucket", bucket,
                    "--listen", kafkaAddress(),
                    "--http", "127.0.0.1:" + httpPort,
                    "--node-name", nodeName,
                    "--log-level", "info",
                    "--group-initial-rebalance-delay", "0s",
                    "--cache-size", "128MiB"));
            if (env.containsKey("SILT_S3_ENDPOINT")) {
                cmd.addAll(List.of("--s3-endpoint", env.get("SILT_S3_ENDPOINT")));
            }
            if (supportsGossip()) {
                cmd.addAll(List.of("--gossip", gossipAddress()));
                // At the first start, join the agents started before this
                // one (agent 0 starts alone); at a restart, every other
                // agent: whichever of them is alive lets this one in.
                String join = agents.stream().filter(a -> a != this && (starts > 1 || a.index < index))
                        .map(Agent::gossipAddress).collect(Collectors.joining(","));
                if (!join.isEmpty()) {
                    cmd.addAll(List.of("--join", join));
                }
            }
            cmd.addAll(extraFlags);
            return cmd;
        }

        /** Starts the process (again, after a stop or kill); does not wait. */
        public synchronized void start() throws IOException {
            if (alive()) {
                throw new IllegalStateException(nodeName + " is already running");
            }
            starts++;
            List<String> cmd = command();
            Files.writeString(log, "=== start " + starts + ": " + String.join(" ", cmd) + "\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().keySet().removeIf(k -> k.startsWith("SILT_"));
            pb.environment().putAll(env);
            proc = pb.start();
        }

        /** Waits until GET /readyz answers 200. */
        public void awaitReady(Duration timeout) throws Exception {
            long deadline = System.nanoTime() + timeout.toNanos();
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/readyz"))
                    .timeout(Duration.ofSeconds(2)).build();
            while (true) {
                if (!alive()) {
                    throw new IllegalStateException(nodeName + " exited with " + proc.exitValue() + " before it was ready:\n" + logTail(30));
                }
                try {
                    if (HTTP.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                        return;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(nodeName + " not ready after " + timeout + ":\n" + logTail(30));
                }
                Thread.sleep(50);
            }
        }

        public void restart() throws Exception {
            start();
            awaitReady(Duration.ofSeconds(60));
        }

        public synchronized boolean alive() {
            return proc != null && proc.isAlive();
        }

        /** SIGKILL: a crash. */
        public synchronized void kill9() {
            if (proc == null) {
                return;
            }
            proc.destroyForcibly();
            try {
                proc.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** SIGTERM, then waits; returns the exit code (SIGKILL and -1 after timeout). */
        public synchronized int stop(Duration timeout) throws InterruptedException {
            proc.destroy();
            if (!proc.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                proc.destroyForcibly();
                proc.waitFor(10, TimeUnit.SECONDS);
                return -1;
            }
            return proc.exitValue();
        }

        public String logTail(int lines) {
            try {
                List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
                return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
            } catch (IOException e) {
                return "(no log: " + e + ")";
            }
        }
    }
}
