package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka Connect 4.3.1 (the newest connect-file served; classpaths/connect/pom.xml) in distributed mode: two workers in one Connect
 * cluster against a silt cluster, configured through the REST API as a user
 * would. The FileStream source connector reads a file into a topic and the
 * FileStream sink connector writes the topic to another file. Connect creates
 * its config, offset and status topics (compacted) itself. The worker that
 * runs the source task is killed with SIGKILL while lines are appended; the
 * other takes its tasks and the output becomes complete. Then everything
 * (worker, silt agents) is stopped and started again: the source resumes
 * from the offsets Connect stored in silt, not from the start of the file,
 * and the sink from its group's committed offsets.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(420)
class ConnectTest {

    static final String TOPIC = "connect-lines";
    static final String GROUP = "silt-connect";
    static final int FIRST = 4000;
    static final int WHILE_DOWN = 3000;
    static final int AFTER_RESTART = 2000;

    Silt silt;
    Admin admin;
    Path dir;
    Path input;
    Path output;
    final List<Worker> workers = new ArrayList<>();

    /** One Connect worker: a JVM with its REST port. */
    final class Worker {
        final int port;
        final Jvm jvm;

        Worker(int i) throws Exception {
            port = Silt.freePort();
            Path props = dir.resolve("worker-" + i + ".properties");
            Files.writeString(props, String.join("\n",
                    "bootstrap.servers=" + silt.bootstrap(),
                    "group.id=" + GROUP,
                    "listeners=http://127.0.0.1:" + port,
                    "rest.advertised.host.name=127.0.0.1",
                    "rest.advertised.port=" + port,
                    "config.storage.topic=connect-configs",
                    "offset.storage.topic=connect-offsets",
                    "status.storage.topic=connect-status",
                    "key.converter=org.apache.kafka.connect.storage.StringConverter",
                    "value.converter=org.apache.kafka.connect.storage.StringConverter",
                    // Connect's own tuning, not silt's: source offsets and
                    // sink commits every second instead of every minute, so
                    // a kill -9 re-reads a second's worth, and a lost
                    // worker's tasks are given out after 10 s rather than
                    // after the 5 minutes Connect waits by default for it
                    // to come back.
                    "offset.flush.interval.ms=1000",
                    "scheduled.rebalance.max.delay.ms=10000",
                    ""), StandardCharsets.UTF_8);
            jvm = new Jvm("connect-worker-" + i, "connect", "320m",
                    "org.apache.kafka.connect.cli.ConnectDistributed", List.of(props.toString()));
        }

        String url(String path) {
            return "http://127.0.0.1:" + port + path;
        }

        String id() {
            return "127.0.0.1:" + port;
        }

        void start() throws Exception {
            jvm.start();
        }

        void awaitUp() throws Exception {
            Kafka.await(Duration.ofSeconds(120), () -> {
                if (!jvm.alive()) {
                    throw new AssertionError(jvm.name() + " exited:\n" + jvm.tail(40));
                }
                return Rest.up(url("/connectors"));
            }, () -> jvm.name() + " REST API not up:\n" + jvm.tail(40));
        }
    }

    @BeforeAll
    void start() throws Exception {
        silt = Silt.start("ConnectTest", Silt.Backend.FILE);
        admin = Kafka.admin(silt.bootstrap());
        dir = silt.dir().resolve("connect");
        Files.createDirectories(dir);
        input = dir.resolve("input.txt");
        output = dir.resolve("output.txt");
        for (int i = 0; i < 2; i++) {
            workers.add(new Worker(i));
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (Worker w : workers) {
            w.jvm.stop(Duration.ofSeconds(30));
        }
        if (admin != null) {
            admin.close();
        }
        if (silt != null) {
            silt.close();
        }
    }

    static String line(int i) {
        return String.format("line-%06d the quick brown fox jumps over the lazy silt agent", i);
    }

    void append(int from, int to) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to; i++) {
            sb.append(line(i)).append('\n');
        }
        Files.writeString(input, sb.toString(), StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** The sink's output so far: every line, duplicates included. */
    List<String> outputLines() {
        try {
            return Files.exists(output) ? Files.readAllLines(output, StandardCharsets.UTF_8) : List.of();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    void awaitOutput(int n, String when) throws Exception {
        Set<String> want = new HashSet<>();
        for (int i = 0; i < n; i++) {
            want.add(line(i));
        }
        Kafka.await(Duration.ofSeconds(180), () -> new HashSet<>(outputLines()).containsAll(want),
                () -> when + ": output has " + new HashSet<>(outputLines()).size() + " of " + n + " distinct lines\n"
                        + workers.get(0).jvm.tail(30) + workers.get(1).jvm.tail(30));
    }

    long topicRecords() throws Exception {
        return Kafka.endOffsets(admin, Kafka.partitions(TOPIC, 3)).values().stream().mapToLong(Long::longValue).sum();
    }

    /** The worker ids running the connector's tasks, by any live worker's REST API. */
    JsonNode status(String connector) throws Exception {
        for (Worker w : workers) {
            if (w.jvm.alive()) {
                try {
                    Rest.Answer a = Rest.get(w.url("/connectors/" + connector + "/status"));
                    if (a.status() == 200) {
                        return a.json();
                    }
                } catch (java.io.IOException e) {
                    // this worker is not answering; try the next
                }
            }
        }
        return null;
    }

    boolean allRunningOn(String connector, String workerId) throws Exception {
        JsonNode s = status(connector);
        if (s == null || s.get("tasks").isEmpty()) {
            return false;
        }
        for (JsonNode t : s.get("tasks")) {
            if (!"RUNNING".equals(t.get("state").asText()) || !workerId.equals(t.get("worker_id").asText())) {
                return false;
            }
        }
        return true;
    }

    @Test
    void fileThroughTopicWithWorkerKilledAndRestart() throws Exception {
        long t0 = System.nanoTime();
        Kafka.createTopic(admin, TOPIC, 3);
        append(0, FIRST);
        for (Worker w : workers) {
            w.start();
        }
        for (Worker w : workers) {
            w.awaitUp();
        }

        // Configured as a user would: PUT /connectors/NAME/config.
        Worker a = workers.get(0);
        Rest.put(a.url("/connectors/file-source/config"), Map.of(
                "connector.class", "FileStreamSource",
                "tasks.max", "1",
                "file", input.toString(),
                "topic", TOPIC)).ok();
        Rest.put(a.url("/connectors/file-sink/config"), Map.of(
                "connector.class", "FileStreamSink",
                "tasks.max", "2",
                "file", output.toString(),
                "topics", TOPIC)).ok();
        JsonNode plugins = Rest.get(a.url("/connector-plugins")).ok().json();
        assertTrue(plugins.toString().contains("FileStreamSourceConnector"), "plugins: " + plugins);
        awaitOutput(FIRST, "first file");

        // Connect created its own topics, compacted, with its default partition counts.
        Map<String, Integer> internal = Map.of("connect-configs", 1, "connect-offsets", 25, "connect-status", 5);
        Map<String, TopicDescription> described = admin.describeTopics(internal.keySet()).allTopicNames().get();
        List<ConfigResource> resources = internal.keySet().stream()
                .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get();
        for (Map.Entry<String, Integer> e : internal.entrySet()) {
            assertEquals(e.getValue(), described.get(e.getKey()).partitions().size(), e.getKey() + " partitions");
            assertEquals("compact", configs.get(new ConfigResource(ConfigResource.Type.TOPIC, e.getKey()))
                    .get("cleanup.policy").value(), e.getKey() + " cleanup.policy");
        }

        // kill -9 the worker running the source task; append while it is dead.
        JsonNode st = status("file-source");
        String victimId = st.get("tasks").get(0).get("worker_id").asText();
        Worker victim = workers.stream().filter(w -> w.id().equals(victimId)).findFirst()
                .orElseThrow(() -> new AssertionError("source task on unknown worker " + victimId));
        Worker survivor = victim == workers.get(0) ? workers.get(1) : workers.get(0);
        long killedAt = System.nanoTime();
        victim.jvm.kill9();
        append(FIRST, FIRST + WHILE_DOWN);
        Kafka.await(Duration.ofSeconds(120),
                () -> {
                    try {
                        return allRunningOn("file-source", survivor.id()) && allRunningOn("file-sink", survivor.id());
                    } catch (Exception e) {
                        return false;
                    }
                },
                () -> "tasks not moved to " + survivor.id() + ": " + status("file-source") + " " + status("file-sink"));
        double movedSeconds = (System.nanoTime() - killedAt) / 1e9;
        // The dead worker's sink consumers keep their partitions until their
        // group session times out (the consumer's default, 45 s).
        awaitOutput(FIRST + WHILE_DOWN, "after the kill");
        double completeSeconds = (System.nanoTime() - killedAt) / 1e9;
        long beforeRestart = topicRecords();

        // Everything restarted: the worker stopped, every agent stopped and
        // started again, both workers started; lines appended meanwhile.
        boolean stuckInJetty = stopWorker(survivor);
        for (Silt.Agent ag : silt.agents()) {
            assertEquals(0, ag.stop(Duration.ofSeconds(30)), ag.nodeName() + " exit on SIGTERM:\n" + ag.logTail(30));
        }
        append(FIRST + WHILE_DOWN, FIRST + WHILE_DOWN + AFTER_RESTART);
        for (Silt.Agent ag : silt.agents()) {
            ag.restart();
        }
        for (Worker w : workers) {
            w.start();
        }
        for (Worker w : workers) {
            w.awaitUp();
        }
        int total = FIRST + WHILE_DOWN + AFTER_RESTART;
        awaitOutput(total, "after the restart");
        // The source's offsets are read back from connect-offsets: after the
        // restart it produces the new lines, not the file again.
        long afterRestart = topicRecords();
        long rereadAfterRestart = afterRestart - beforeRestart - AFTER_RESTART;
        assertTrue(rereadAfterRestart >= 0 && rereadAfterRestart < FIRST + WHILE_DOWN,
                "the source read the file from the start again: " + (afterRestart - beforeRestart)
                        + " records after the restart for " + AFTER_RESTART + " new lines");

        List<String> out = outputLines();
        Map<String, Integer> seen = new HashMap<>();
        out.forEach(l -> seen.merge(l, 1, Integer::sum));
        assertEquals(total, seen.size(), "distinct output lines");
        for (int i = 0; i < total; i++) {
            assertTrue(seen.containsKey(line(i)), "missing " + line(i));
        }
        long sourceRereads = afterRestart - total;
        long sinkDuplicates = out.size() - total;
        Summary.line(String.format("connect distributed, 2 workers, %d agent(s): %d lines through topic %s, "
                        + "1 worker kill -9 (tasks moved in %.1fs, output complete in %.1fs), full restart; "
                        + "source re-read %d (%d after the restart), sink wrote %d duplicates%s; %.0fs",
                silt.agents().size(), total, TOPIC, movedSeconds, completeSeconds, sourceRereads, rereadAfterRestart,
                sinkDuplicates, stuckInJetty ? " (the stopped worker hung in Jetty's shutdown and was killed)" : "",
                (System.nanoTime() - t0) / 1e9));
    }

    /**
     * Stops a worker with SIGTERM; true if it had to be killed because it
     * hung in its REST server's shutdown. Connect's shutdown hook stops the
     * REST server and then the herder; Jetty's own shutdown hook stops the
     * same server concurrently, and when the two race ("Unable to destroy
     * ... IllegalStateException: STARTED" from Jetty's ShutdownThread)
     * Connect's stop can block before the herder is told to stop, with no
     * request to a broker outstanding. Seen once in CI. The worker is then
     * killed, a crash this test already survives; a worker stuck anywhere
     * else (after "Herder stopping", where it talks to silt) fails the test.
     */
    private static boolean stopWorker(Worker w) throws InterruptedException {
        int code = w.jvm.stop(Duration.ofSeconds(60));
        if (code == 0 || code == 143) {
            return false;
        }
        String shutdown = w.jvm.logSince("Kafka Connect stopping");
        boolean jettyRace = shutdown.contains("Unable to destroy") && !shutdown.contains("Herder stopping");
        assertTrue(jettyRace, w.jvm.name() + " exited " + code + " on SIGTERM:\n" + w.jvm.tail(40));
        return true;
    }
}
