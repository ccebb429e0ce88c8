package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
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
}
