package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Share groups (KIP-932) with Kafka 4.4's KafkaShareConsumer against silt:
 * several members on the cluster's agents, explicit acknowledgement
 * (ACCEPT, RELEASE, REJECT), the delivery-count limit, a member that
 * vanishes holding records, the owning agent killed -9, and the
 * command-line tools (kafka-share-groups.sh, kafka-console-share-consumer.sh).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(240)
class ShareGroupTest {

    static final String SHARE_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand";
    static final String CONSOLE_SHARE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleShareConsumer";

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("ShareGroupTest", Silt.Backend.FILE);
        Properties p = new Properties();
        p.put("bootstrap.servers", silt.bootstrap());
        admin = Admin.create(p);
    }

    @AfterAll
    void stopCluster() throws Exception {
        if (admin != null) {
            admin.close();
        }
        if (silt != null) {
            silt.close();
        }
    }

    private void createTopic(String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    private void groupConfigs(String group, Map<String, String> configs) throws Exception {
        List<AlterConfigOp> ops = new ArrayList<>();
        configs.forEach((k, v) -> ops.add(new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET)));
        admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), ops))
                .all().get(30, TimeUnit.SECONDS);
    }

    /** Produces n records "v-i" over the partitions, acks=all, and returns them. */
    private Set<String> produce(String topic, int partitions, int from, int n) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", silt.bootstrap());
        Set<String> values = new HashSet<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < from + n; i++) {
                String v = "v-" + i;
                producer.send(new ProducerRecord<>(topic, i % partitions, null, v));
                values.add(v);
            }
            producer.flush();
        }
        return values;
    }

    private KafkaShareConsumer<String, String> consumer(String group, String topic) {
        Properties p = new Properties();
        p.put("bootstrap.servers", silt.bootstrap());
        p.put("group.id", group);
        p.put("share.acknowledgement.mode", "explicit");
        p.put("client.id", group + "-" + SEQ.incrementAndGet());
        KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        c.subscribe(List.of(topic));
        return c;
    }

    private static final AtomicInteger SEQ = new AtomicInteger();

    private static void await(Duration timeout, String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    /** A member polling in its own thread, acknowledging as decide says. */
    final class Member implements AutoCloseable {
        final KafkaShareConsumer<String, String> consumer;
        final Thread thread;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicBoolean commit = new AtomicBoolean(true);
        volatile Throwable failed;

        Member(String group, String topic, Decide decide) {
            consumer = consumer(group, topic);
            thread = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                            AcknowledgeType t = decide.on(r);
                            if (t != null) {
                                consumer.acknowledge(r, t);
                            }
                        }
                        if (commit.get()) {
                            decide.committed(consumer.commitSync(Duration.ofSeconds(30)));
                        }
                    }
                } catch (org.apache.kafka.common.errors.WakeupException e) {
                    // stopping
                } catch (Throwable t) {
                    failed = t;
                }
            });
            thread.start();
        }

        @Override
        public void close() throws Exception {
            stop.set(true);
            consumer.wakeup();
            thread.join(30_000);
            consumer.close(Duration.ofSeconds(10));
            if (failed != null) {
                throw new AssertionError("member failed", failed);
            }
        }
    }

    interface Decide {
        AcknowledgeType on(ConsumerRecord<String, String> r);

        default void committed(Map<TopicIdPartition, Optional<KafkaException>> results) {
        }
    }

    /**
     * Accepts every record and tells, after each commitSync, which values
     * the broker acknowledged (the partition's result is a success); a
     * delivery of a value already acknowledged is counted as a violation.
     */
    static final class Ledger implements Decide {
        final Map<String, Integer> acknowledged = new ConcurrentHashMap<>();
        final Map<String, Integer> deliveries = new ConcurrentHashMap<>();
        final AtomicInteger violations = new AtomicInteger();
        final AtomicInteger failedCommits = new AtomicInteger();
        // Per thread: what this member accepted since its last commit.
        final ThreadLocal<Map<Integer, List<String>>> pending = ThreadLocal.withInitial(HashMap::new);

        @Override
        public AcknowledgeType on(ConsumerRecord<String, String> r) {
            try {
                Thread.sleep(3); // some work, so that the kill lands mid-stream
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            deliveries.merge(r.value(), 1, Integer::sum);
            if (acknowledged.containsKey(r.value())) {
                violations.incrementAndGet();
            }
            pending.get().computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.value());
            return AcknowledgeType.ACCEPT;
        }

        @Override
        public void committed(Map<TopicIdPartition, Optional<KafkaException>> results) {
            Map<Integer, List<String>> mine = pending.get();
            for (Map.Entry<TopicIdPartition, Optional<KafkaException>> e : results.entrySet()) {
                List<String> vs = mine.remove(e.getKey().partition());
                if (vs == null) {
                    continue;
                }
                if (e.getValue().isPresent()) {
                    failedCommits.incrementAndGet();
                    continue;
                }
                for (String v : vs) {
                    acknowledged.merge(v, 1, Integer::sum);
                }
            }
            mine.clear(); // partitions without a result: not known to be acknowledged
        }
    }

    /**
     * Three members share three partitions: every record is delivered;
     * the first delivery of every tenth record is RELEASEd and comes back
     * with delivery count 2; every seventh is REJECTed and never comes back;
     * the rest are ACCEPTed once each. The group's start offsets end at the
     * log end and kafka-share-groups.sh describes it.
     */
    @Test
    void membersShareTheRecords() throws Exception {
        String topic = "share-jobs", group = "share-workers";
        createTopic(topic, 3);
        groupConfigs(group, Map.of("share.auto.offset.reset", "earliest"));
        Set<String> values = produce(topic, 3, 0, 900);
        Map<String, Integer> accepted = new ConcurrentHashMap<>();
        Map<String, Integer> deliveries = new ConcurrentHashMap<>();
        Set<String> rejected = ConcurrentHashMap.newKeySet();
        AtomicInteger redelivered = new AtomicInteger();
        Decide decide = r -> {
            int i = Integer.parseInt(r.value().substring(2));
            deliveries.merge(r.value(), 1, Integer::sum);
            short count = r.deliveryCount().orElse((short) 0);
            if (i % 7 == 0) {
                rejected.add(r.value());
                return AcknowledgeType.REJECT;
            }
            if (i % 10 == 0 && count == 1) {
                return AcknowledgeType.RELEASE;
            }
            if (count > 1) {
                redelivered.incrementAndGet();
            }
            accepted.merge(r.value(), 1, Integer::sum);
            return AcknowledgeType.ACCEPT;
        };
        List<Member> members = new ArrayList<>();
        try {
            for (int m = 0; m < 3; m++) {
                members.add(new Member(group, topic, decide));
            }
            await(Duration.ofSeconds(90), "every record accepted or rejected",
                    () -> accepted.size() + rejected.size() == values.size());
        } finally {
            for (Member m : members) {
                m.close();
            }
        }
        accepted.forEach((v, n) -> assertEquals(1, n, "accepts of " + v));
        rejected.forEach(v -> assertEquals(1, deliveries.get(v), "deliveries of rejected " + v));
        long released = values.stream().filter(v -> {
            int i = Integer.parseInt(v.substring(2));
            return i % 10 == 0 && i % 7 != 0;
        }).count();
        assertEquals(released, redelivered.get(), "released records accepted on their second delivery");
        Summary.line("share groups: 3 members, 900 records: " + accepted.size() + " accepted once, " + rejected.size()
                + " rejected, " + redelivered.get() + " released and redelivered");

        Tool.Result described = Tool.run(Duration.ofSeconds(60), null, SHARE_GROUP_COMMAND,
                "--bootstrap-server", silt.bootstrap(), "--describe", "--group", group, "--offsets").check();
        for (int p = 0; p < 3; p++) {
            assertTrue(described.stdout().matches("(?s).*" + topic + "\\s+" + p + "\\s+300\\b.*"), described.toString());
        }
    }

    /**
     * share.delivery.count.limit=2: a record released at every delivery is
     * delivered exactly twice, then archived; the group's start offset
     * reaches the log end.
     */
    @Test
    void deliveryCountLimitArchives() throws Exception {
        String topic = "share-poison", group = "share-poison-workers";
        createTopic(topic, 1);
        groupConfigs(group, Map.of("share.auto.offset.reset", "earliest", "share.delivery.count.limit", "2"));
        Set<String> values = produce(topic, 1, 0, 50);
        Map<String, Integer> deliveries = new ConcurrentHashMap<>();
        Map<String, Short> maxCount = new ConcurrentHashMap<>();
        try (Member m = new Member(group, topic, r -> {
            deliveries.merge(r.value(), 1, Integer::sum);
            maxCount.merge(r.value(), r.deliveryCount().orElse((short) 0), (a, b) -> (short) Math.max(a, b));
            return AcknowledgeType.RELEASE;
        })) {
            await(Duration.ofSeconds(60), "every record delivered twice",
                    () -> values.stream().allMatch(v -> deliveries.getOrDefault(v, 0) >= 2));
            await(Duration.ofSeconds(30), "the start offset at the log end", () -> startOffset(group, topic, 0) == 50);
            Thread.sleep(1000); // nothing more may come
        }
        values.forEach(v -> assertEquals(2, deliveries.get(v), "deliveries of " + v));
        values.forEach(v -> assertEquals((short) 2, maxCount.get(v), "last delivery count of " + v));
        Summary.line("share groups: delivery count limit 2: 50 records released at every delivery, each delivered twice, then archived");
    }

    private long startOffset(String group, String topic, int partition) {
        try {
            var spec = new org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec();
            var offsets = admin.listShareGroupOffsets(Map.of(group, spec)).partitionsToOffsetInfo(group).get(10, TimeUnit.SECONDS);
            for (var e : offsets.entrySet()) {
                if (e.getKey().topic().equals(topic) && e.getKey().partition() == partition && e.getValue() != null) {
                    return e.getValue().startOffset();
                }
            }
        } catch (Exception e) {
            // not yet
        }
        return -1;
    }

    /**
     * A member takes records and vanishes without acknowledging them (it
     * never polls again): once their lock (share.record.lock.duration.ms,
     * 5 s here) runs out they go to the other member, with delivery
     * count 2, and every record is accepted.
     */
    @Test
    void vanishedMembersRecordsComeBack() throws Exception {
        String topic = "share-vanish", group = "share-vanish-workers";
        createTopic(topic, 1);
        groupConfigs(group, Map.of("share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "5000"));
        Set<String> values = produce(topic, 1, 0, 200);
        KafkaShareConsumer<String, String> vanishing = consumer(group, topic);
        Set<String> held = new HashSet<>();
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (held.isEmpty() && System.nanoTime() < until) {
                vanishing.poll(Duration.ofMillis(500)).forEach(r -> held.add(r.value()));
            }
            assertTrue(!held.isEmpty(), "the first member got records");
            long took = System.nanoTime();
            Map<String, Short> accepted = new ConcurrentHashMap<>();
            try (Member other = new Member(group, topic, r -> {
                accepted.put(r.value(), r.deliveryCount().orElse((short) 0));
                return AcknowledgeType.ACCEPT;
            })) {
                await(Duration.ofSeconds(60), "every record accepted", () -> accepted.size() == values.size());
            }
            double waited = (System.nanoTime() - took) / 1e9;
            for (String v : held) {
                assertTrue(accepted.get(v) >= 2, v + " came back with delivery count " + accepted.get(v));
            }
            Summary.line(String.format("share groups: a vanished member's %d records redelivered after the 5 s lock, all %d accepted in %.1f s",
                    held.size(), values.size(), waited));
        } finally {
            vanishing.close(Duration.ofSeconds(5));
        }
    }

    /**
     * The agent that owns the share-partition is killed -9 while three
     * members accept records: no record the broker acknowledged is
     * delivered again, and every record is acknowledged in the end.
     */
    @Test
    void ownerKilledNothingAcknowledgedRedelivered() throws Exception {
        String topic = "share-crash", group = "share-crash-workers";
        createTopic(topic, 1);
        groupConfigs(group, Map.of("share.auto.offset.reset", "earliest"));
        int n = 3000;
        Set<String> values = produce(topic, 1, 0, n);
        Ledger ledger = new Ledger();
        List<Member> members = new ArrayList<>();
        Silt.Agent victim = null;
        try {
            for (int m = 0; m < 3; m++) {
                members.add(new Member(group, topic, ledger));
            }
            await(Duration.ofSeconds(60), "a third acknowledged", () -> ledger.acknowledged.size() >= n / 3);
            victim = leader(topic, 0);
            assertTrue(ledger.acknowledged.size() < n, "records still to acknowledge at the kill");
            // With one agent this kills the whole cluster: the restarted
            // agent resumes from the bucket alone.
            assertTrue(victim != null, "metadata names a leader");
            victim.kill9();
            Thread.sleep(2000);
            victim.restart();
            await(Duration.ofSeconds(120), "every record acknowledged", () -> ledger.acknowledged.size() == n);
        } finally {
            for (Member m : members) {
                m.close();
            }
        }
        assertEquals(0, ledger.violations.get(), "deliveries of records already acknowledged");
        ledger.acknowledged.forEach((v, times) -> assertEquals(1, times, "acknowledgements of " + v));
        assertEquals(values, ledger.acknowledged.keySet());
        int redelivered = ledger.deliveries.values().stream().mapToInt(d -> d - 1).sum();
        Summary.line("share groups: owner killed -9 mid-stream, " + silt.agents().size() + " agent(s): " + n
                + " records acknowledged once each, 0 acknowledged records redelivered, " + redelivered
                + " unacknowledged deliveries repeated, " + ledger.failedCommits.get() + " failed commits");
    }

    private Silt.Agent leader(String topic, int partition) throws Exception {
        org.apache.kafka.common.Node node = admin.describeTopics(List.of(topic)).allTopicNames()
                .get(10, TimeUnit.SECONDS).get(topic).partitions().get(partition).leader();
        for (Silt.Agent a : silt.agents()) {
            if (node != null && a.kafkaAddress().equals(node.host() + ":" + node.port())) {
                return a;
            }
        }
        return null;
    }

    /**
     * kafka-console-share-consumer.sh reads what was produced;
     * kafka-share-groups.sh lists the group, describes it, resets its
     * offsets to the earliest once it is empty (the next member reads
     * everything again), deletes its offsets and the group.
     */
    @Test
    void shareGroupTools() throws Exception {
        String topic = "share-tools", group = "share-tools-group";
        createTopic(topic, 2);
        groupConfigs(group, Map.of("share.auto.offset.reset", "earliest"));
        Set<String> values = produce(topic, 2, 0, 20);
        Tool.Result consumed = Tool.run(Duration.ofSeconds(90), null, CONSOLE_SHARE_CONSUMER,
                "--bootstrap-server", silt.bootstrap(), "--topic", topic, "--group", group, "--max-messages", "20").check();
        assertEquals(values, new HashSet<>(consumed.stdout().strip().lines().toList()), consumed.toString());

        Tool.Result listed = tools("--list").check();
        assertTrue(listed.stdout().lines().anyMatch(l -> l.strip().equals(group)), listed.toString());
        awaitEmpty(group);
        Tool.Result offsets = tools("--describe", "--group", group, "--offsets").check();
        assertTrue(offsets.stdout().matches("(?s).*" + topic + "\\s+0\\s+10\\b.*"), offsets.toString());

        tools("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute").check();
        Tool.Result again = Tool.run(Duration.ofSeconds(90), null, CONSOLE_SHARE_CONSUMER,
                "--bootstrap-server", silt.bootstrap(), "--topic", topic, "--group", group, "--max-messages", "20").check();
        assertEquals(values, new HashSet<>(again.stdout().strip().lines().toList()), again.toString());

        awaitEmpty(group);
        tools("--delete-offsets", "--group", group, "--topic", topic).check();
        tools("--delete", "--group", group).check();
        Tool.Result after = tools("--list").check();
        assertTrue(after.stdout().lines().noneMatch(l -> l.strip().equals(group)), after.toString());
    }

    /** Waits until kafka-share-groups.sh --describe --state says Empty. */
    private void awaitEmpty(String group) throws InterruptedException {
        await(Duration.ofSeconds(30), "the group empty", () -> {
            try {
                return tools("--describe", "--group", group, "--state").check().stdout().contains("Empty");
            } catch (Exception e) {
                return false;
            }
        });
    }

    private Tool.Result tools(String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap()));
        all.addAll(List.of(args));
        return Tool.run(Duration.ofSeconds(60), null, SHARE_GROUP_COMMAND, all.toArray(String[]::new));
    }
}
