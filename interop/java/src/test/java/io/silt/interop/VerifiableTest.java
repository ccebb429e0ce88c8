package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.errors.RetriableException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Kafka's own system-test checkers, VerifiableProducer (acks=-1) and a group
 * of two VerifiableConsumers, run while the harness kill -9s agents and
 * restarts them on the same bucket. Every record the producer saw
 * acknowledged must be consumed; acknowledged offsets must be unique and,
 * per partition, in the order the producer sent them.
 *
 * With {@link Silt#AGENTS} = 3 (the default) the agents are killed in turn
 * and the other two keep serving; with one agent each kill takes the whole
 * cluster down until the restart.
 */
@Timeout(300)
class VerifiableTest {

    static final String PRODUCER = "org.apache.kafka.tools.VerifiableProducer";
    static final String CONSUMER = "org.apache.kafka.tools.VerifiableConsumer";
    static final int PARTITIONS = 3;
    static final int MESSAGES = 12_000;
    static final int THROUGHPUT = 400; // messages/s: about 30 s of producing
    static final Duration KILL_EVERY = Duration.ofSeconds(6);
    static final int MAX_KILLS = 4;

    private static final ObjectMapper JSON = new ObjectMapper();

    private Silt silt;
    private final List<Process> procs = new ArrayList<>();

    @AfterEach
    void cleanup() throws Exception {
        for (Process p : procs) {
            p.destroyForcibly();
        }
        if (silt != null) {
            silt.close();
        }
    }

    /** A tool process whose JSON lines are collected by a reader thread. */
    static final class JsonTool {
        final Process proc;
        final ConcurrentLinkedQueue<JsonNode> events = new ConcurrentLinkedQueue<>();
        final AtomicInteger unparsed = new AtomicInteger();
        final Thread reader;

        JsonTool(Process proc, String name) {
            this.proc = proc;
            this.reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        try {
                            events.add(JSON.readTree(line));
                        } catch (IOException e) {
                            unparsed.incrementAndGet();
                        }
                    }
                } catch (IOException e) {
                    // the process ended
                }
            }, "json-" + name);
            reader.setDaemon(true);
            reader.start();
        }

        List<JsonNode> named(String name) {
            List<JsonNode> out = new ArrayList<>();
            for (JsonNode e : events) {
                if (name.equals(e.path("name").asText())) {
                    out.add(e);
                }
            }
            return out;
        }
    }

    /**
     * Two runs. "system-test": the tools as Kafka's system tests run them;
     * VerifiableProducer sets retries=0, so sends in flight at a kill fail
     * (each failure must be a retriable error) and are not acknowledged.
     * "idempotent": the producer with idempotence on and unlimited retries
     * (the 4.x defaults VerifiableProducer overrides), consumers --verbose:
     * no send may fail and no value may appear twice in the log.
     */
    @ParameterizedTest(name = "{2} bucket, group.protocol={0}, producer {1}")
    @CsvSource({"classic, system-test, FILE", "consumer, idempotent, FILE", "classic, idempotent, S3"})
    void everyAcknowledgedRecordIsConsumedThroughKills(String protocol, String mode, Silt.Backend backend) throws Exception {
        boolean idempotent = mode.equals("idempotent");
        long started = System.nanoTime();
        silt = Silt.start("Verifiable-" + backend + "-" + protocol, backend);
        String topic = "verifiable";
        String group = "verifiable-" + protocol;
        try (Admin admin = Kafka.admin(silt.bootstrap())) {
            Kafka.createTopic(admin, topic, PARTITIONS);
        }

        List<JsonTool> consumers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            List<String> args = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap(), "--topic", topic,
                    "--group-id", group, "--group-protocol", protocol, "--reset-policy", "earliest"));
            if (idempotent) {
                args.add("--verbose");
            }
            Process p = Tool.spawn(CONSUMER, args);
            procs.add(p);
            consumers.add(new JsonTool(p, "consumer-" + i));
        }
        List<String> producerArgs = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap(), "--topic", topic,
                "--max-messages", Integer.toString(MESSAGES), "--throughput", Integer.toString(THROUGHPUT),
                "--acks", "-1"));
        if (idempotent) {
            Path config = silt.dir().resolve("idempotent-producer.properties");
            Files.writeString(config, "enable.idempotence=true\nretries=2147483647\n");
            producerArgs.addAll(List.of("--command-config", config.toString()));
        }
        Process pp = Tool.spawn(PRODUCER, producerArgs);
        procs.add(pp);
        JsonTool producer = new JsonTool(pp, "producer");

        // kill -9 an agent every few seconds while the producer runs, and
        // restart it on the same bucket. With several agents the victim is
        // the current leader of partition 0, 1, 2, 0…, so every kill hits
        // an agent the producer is writing to.
        int kills = 0;
        List<String> killLog = new ArrayList<>();
        try (Admin admin = Kafka.admin(silt.bootstrap())) {
            while (pp.isAlive() && kills < MAX_KILLS) {
                if (pp.waitFor(KILL_EVERY.toMillis(), TimeUnit.MILLISECONDS)) {
                    break;
                }
                int partition = kills % PARTITIONS;
                Silt.Agent victim = leader(admin, topic, partition);
                String role = "leader of partition " + partition;
                if (victim == null) {
                    victim = silt.agent(kills % silt.agents().size());
                    role = "leader unknown";
                }
                int ackedBefore = producer.named("producer_send_success").size();
                victim.kill9();
                Thread.sleep(500);
                long t0 = System.nanoTime();
                victim.restart();
                kills++;
                killLog.add(String.format("%s (%s) at %d acks, back in %d ms", victim.nodeName(), role, ackedBefore,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
            }
        }
        assertTrue(pp.waitFor(180, TimeUnit.SECONDS), "VerifiableProducer did not finish");
        producer.reader.join(10_000);
        assertEquals(0, pp.exitValue(), "VerifiableProducer exit code");

        List<JsonNode> acks = producer.named("producer_send_success");
        List<JsonNode> errors = producer.named("producer_send_error");
        // Acknowledged offsets: unique, and per partition increasing with
        // the value (the producer sends increasing integers, in order).
        Map<Integer, TreeMap<Long, Long>> ackedByPartition = new HashMap<>();
        for (JsonNode a : acks) {
            int p = a.path("partition").asInt();
            long offset = a.path("offset").asLong();
            long value = Long.parseLong(a.path("value").asText());
            Long prev = ackedByPartition.computeIfAbsent(p, k -> new TreeMap<>()).put(offset, value);
            if (prev != null) {
                throw new AssertionError("offset " + p + "/" + offset + " acknowledged for values " + prev + " and " + value);
            }
        }
        for (Map.Entry<Integer, TreeMap<Long, Long>> e : ackedByPartition.entrySet()) {
            long last = -1;
            for (Map.Entry<Long, Long> o : e.getValue().entrySet()) {
                assertTrue(o.getValue() > last, "partition " + e.getKey() + ": value " + o.getValue()
                        + " at offset " + o.getKey() + " after value " + last);
                last = o.getValue();
            }
        }

        // Wait until the consumers have read past every acknowledged offset.
        Kafka.await(Duration.ofSeconds(90), () -> missing(ackedByPartition, consumers).isEmpty(),
                () -> "acknowledged records not consumed: " + summarize(missing(ackedByPartition, consumers)));
        for (JsonTool c : consumers) {
            c.proc.destroy(); // SIGTERM: the tool closes its consumer and says shutdown_complete
        }
        for (JsonTool c : consumers) {
            c.proc.waitFor(30, TimeUnit.SECONDS);
            c.reader.join(5_000);
        }

        long consumed = 0;
        int rebalances = 0;
        int commitsOk = 0;
        int commitsFailed = 0;
        for (JsonTool c : consumers) {
            for (JsonNode e : c.named("records_consumed")) {
                consumed += e.path("count").asLong();
            }
            rebalances += c.named("partitions_assigned").size();
            for (JsonNode e : c.named("offsets_committed")) {
                if (e.path("success").asBoolean()) {
                    commitsOk++;
                } else {
                    commitsFailed++;
                }
            }
        }
        JsonNode toolData = producer.named("tool_data").stream().reduce((a, b) -> b).orElse(null);
        Map<String, Integer> errorKinds = new TreeMap<>();
        for (JsonNode e : errors) {
            errorKinds.merge(e.path("exception").asText().replaceFirst("^class ", ""), 1, Integer::sum);
        }
        Summary.line(String.format(
                "verifiable %s bucket, group.protocol=%s, producer %s, %d agent(s): sent %d, acked %d, send errors %d %s, consumed %d "
                        + "(every acked record consumed), assignments %d, commits %d ok / %d failed, kills survived %d [%s], %d s",
                backend, protocol, mode, silt.agents().size(), MESSAGES, acks.size(), errors.size(), errorKinds, consumed,
                rebalances, commitsOk, commitsFailed, kills, String.join("; ", killLog),
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started)));
        if (toolData != null) {
            assertEquals(MESSAGES, toolData.path("sent").asInt(), "tool_data sent");
            assertEquals(acks.size(), toolData.path("acked").asInt(), "tool_data acked");
        }
        assertTrue(kills >= 2, "the producer ran long enough for at least two kills, got " + kills);
        assertEquals(MESSAGES, acks.size() + errors.size(), "every send answered");
        assertTrue(consumed >= acks.size(), "consumed " + consumed + " < acked " + acks.size());
        if (!idempotent) {
            // Without retries a send in flight at a kill fails; it must fail
            // the way a broker crash makes it fail, with a retriable error.
            for (String kind : errorKinds.keySet()) {
                assertTrue(RetriableException.class.isAssignableFrom(Class.forName(kind)),
                        "send failed with a non-retriable " + kind + ": " + errors.get(0));
            }
            return;
        }
        assertEquals(0, errors.size(), "idempotent sends failed: " + (errors.isEmpty() ? "" : errors.get(0)));
        // No duplicates in the log: each value sits at exactly one offset.
        Map<String, String> where = new HashMap<>();
        for (JsonTool c : consumers) {
            for (JsonNode r : c.named("record_data")) {
                String at = r.path("partition").asInt() + "/" + r.path("offset").asLong();
                String prev = where.putIfAbsent(r.path("value").asText(), at);
                if (prev != null && !prev.equals(at)) {
                    throw new AssertionError("value " + r.path("value").asText() + " is in the log twice: at " + prev + " and " + at);
                }
            }
        }
        assertEquals(MESSAGES, where.size(), "distinct values consumed");
    }

    /** The agent metadata names as the partition's leader, or null. */
    private Silt.Agent leader(Admin admin, String topic, int partition) {
        try {
            org.apache.kafka.common.Node node = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(10, TimeUnit.SECONDS).get(topic).partitions().get(partition).leader();
            for (Silt.Agent a : silt.agents()) {
                if (node != null && a.kafkaAddress().equals(node.host() + ":" + node.port())) {
                    return a;
                }
            }
        } catch (Exception e) {
            // fall back to taking the agents in turn
        }
        return null;
    }

    /** Acknowledged offsets no records_consumed range covers, per partition. */
    private static Map<Integer, List<Long>> missing(Map<Integer, TreeMap<Long, Long>> acked, List<JsonTool> consumers) {
        Map<Integer, List<long[]>> ranges = new HashMap<>();
        for (JsonTool c : consumers) {
            for (JsonNode e : c.named("records_consumed")) {
                for (JsonNode p : e.path("partitions")) {
                    ranges.computeIfAbsent(p.path("partition").asInt(), k -> new ArrayList<>())
                            .add(new long[] {p.path("minOffset").asLong(), p.path("maxOffset").asLong()});
                }
            }
        }
        Map<Integer, List<Long>> out = new HashMap<>();
        for (Map.Entry<Integer, TreeMap<Long, Long>> e : acked.entrySet()) {
            List<long[]> rs = ranges.getOrDefault(e.getKey(), List.of());
            rs.sort((x, y) -> Long.compare(x[0], y[0]));
            // Merge the ranges, then walk the acknowledged offsets against them.
            List<long[]> merged = new ArrayList<>();
            for (long[] r : rs) {
                if (!merged.isEmpty() && r[0] <= merged.get(merged.size() - 1)[1] + 1) {
                    long[] last = merged.get(merged.size() - 1);
                    last[1] = Math.max(last[1], r[1]);
                } else {
                    merged.add(new long[] {r[0], r[1]});
                }
            }
            for (long offset : e.getValue().keySet()) {
                boolean covered = false;
                for (long[] r : merged) {
                    if (offset >= r[0] && offset <= r[1]) {
                        covered = true;
                        break;
                    }
                }
                if (!covered) {
                    out.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(offset);
                }
            }
        }
        return out;
    }

    private static String summarize(Map<Integer, List<Long>> missing) {
        StringBuilder b = new StringBuilder();
        missing.forEach((p, offs) -> b.append("partition ").append(p).append(": ").append(offs.size())
                .append(" offsets, first ").append(offs.subList(0, Math.min(10, offs.size()))).append("; "));
        return b.toString();
    }
}
