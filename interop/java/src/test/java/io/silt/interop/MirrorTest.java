package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Migrating from Apache Kafka with MirrorMaker 2 (dedicated mode,
 * connect-mirror 4.3.1): a real Kafka 4.4.0 broker holds a topic and a
 * consumer group halfway through it; one MirrorMaker process replicates the
 * topic, its configs and the group's checkpoints into silt, and a second
 * topic and group the other way, silt into Kafka. With
 * IdentityReplicationPolicy the topics keep their names, and with group
 * offset sync the groups' translated offsets are committed on the other
 * side. The switch follows README's procedure: the groups' members run on
 * the old side until the topics are copied, then stop while producers write
 * on; a consumer switched over continues where it stopped: every record is
 * consumed at least once, and what is read again is within one offset sync
 * per partition. (A group stopped in the middle of a backlog is translated
 * only once MirrorMaker has a sync at or before its offset, and MirrorMaker
 * replaces a queued sync by a newer one while ten are in flight, so the halfway group this test
 * began with was translated in some runs and not in others.) The
 * configuration is the one README's "Migrating from Kafka" shows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(480)
class MirrorTest {

    static final int PARTITIONS = 3;
    static final String RETENTION = "123456789";
    /** MirrorMaker's offset.lag.max default: the most records between two offset syncs it writes. */
    static final int OFFSET_LAG_MAX = 100;

    Silt silt;
    KafkaBroker kafka;
    Admin siltAdmin;
    Admin kafkaAdmin;
    Jvm mirror;

    @BeforeAll
    void start() throws Exception {
        silt = Silt.start("MirrorTest", Silt.Backend.FILE);
        kafka = KafkaBroker.start(silt.dir().resolve("kafka"));
        siltAdmin = Kafka.admin(silt.bootstrap());
        kafkaAdmin = Kafka.admin(kafka.bootstrap());
    }

    @AfterAll
    void stop() throws Exception {
        if (mirror != null) {
            mirror.stop(Duration.ofSeconds(30));
        }
        for (Admin a : new Admin[] {siltAdmin, kafkaAdmin}) {
            if (a != null) {
                a.close();
            }
        }
        if (kafka != null) {
            kafka.close();
        }
        if (silt != null) {
            silt.close();
        }
    }

    /** MirrorMaker 2's configuration for both flows; README shows the same lines. */
    String mm2Properties() {
        return String.join("\n",
                "clusters = kafka, silt",
                "kafka.bootstrap.servers = " + kafka.bootstrap(),
                "silt.bootstrap.servers = " + silt.bootstrap(),
                "",
                "# Kafka -> silt: the topics and groups to migrate",
                "kafka->silt.enabled = true",
                "kafka->silt.topics = orders",
                "kafka->silt.groups = billing",
                "# silt -> Kafka: the way back",
                "silt->kafka.enabled = true",
                "silt->kafka.topics = returns",
                "silt->kafka.groups = shipping",
                "",
                "# Topics keep their names (no \"kafka.\" prefix), so consumers switch by bootstrap.servers alone.",
                "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
                "# Commit the groups' translated offsets on the other side (the group must have no",
                "# active members there), every second rather than every minute.",
                "sync.group.offsets.enabled = true",
                "sync.group.offsets.interval.seconds = 1",
                "emit.checkpoints.interval.seconds = 1",
                "",
                "# Only because the Kafka here is a single broker: one replica for the topics",
                "# MirrorMaker creates there. silt takes any replication factor.",
                "replication.factor = 1",
                "offset-syncs.topic.replication.factor = 1",
                "checkpoints.topic.replication.factor = 1",
                "heartbeats.topic.replication.factor = 1",
                "config.storage.replication.factor = 1",
                "offset.storage.replication.factor = 1",
                "status.storage.replication.factor = 1",
                "");
    }

    /** Produces n records "prefix-NNNNN" (keyed, so spread over the partitions) from index from. */
    static void produce(String bootstrap, String topic, String prefix, int from, int n) throws Exception {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Kafka.producer(bootstrap))) {
            for (int i = from; i < from + n; i++) {
                p.send(new ProducerRecord<>(topic, "k" + i, String.format("%s-%05d", prefix, i)));
            }
            p.flush();
        }
    }

    /**
     * A member of group reads until it has consumed at least n records (or,
     * with all, until it has every value in want) and commits; returns the
     * values it read, each time it read them.
     */
    static List<String> consume(String bootstrap, String topic, String group, int n, Set<String> want) throws Exception {
        List<String> got = new ArrayList<>();
        Set<String> missing = new HashSet<>(want);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Kafka.consumer(bootstrap, group))) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (got.size() < n || !missing.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(group + " on " + bootstrap + ": read " + got.size() + ", still missing "
                            + missing.size() + " of " + want.size());
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got.add(r.value());
                    missing.remove(r.value());
                }
            }
            c.commitSync();
        }
        return got;
    }

    static long records(Admin admin, String topic) throws Exception {
        return Kafka.endOffsets(admin, Kafka.partitions(topic, PARTITIONS)).values().stream().mapToLong(Long::longValue).sum();
    }

    static Map<TopicPartition, Long> committed(Admin admin, String group) throws Exception {
        Map<TopicPartition, Long> out = new HashMap<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e
                : admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().entrySet()) {
            if (e.getValue() != null) {
                out.put(e.getKey(), e.getValue().offset());
            }
        }
        return out;
    }

    static Set<String> values(String prefix, int from, int to) {
        Set<String> s = new HashSet<>();
        for (int i = from; i < to; i++) {
            s.add(String.format("%s-%05d", prefix, i));
        }
        return s;
    }

    /**
     * Keeps a group's member running on the old cluster until the switch, as
     * README's procedure does: it reads on to the end of the topic and
     * commits; returns what it read.
     */
    static List<String> readToEnd(Admin admin, String bootstrap, String topic, String group) throws Exception {
        Map<TopicPartition, Long> end = Kafka.endOffsets(admin, Kafka.partitions(topic, PARTITIONS));
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Kafka.consumer(bootstrap, group))) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (c.assignment().size() < PARTITIONS
                    || end.entrySet().stream().anyMatch(e -> c.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(group + " on " + bootstrap + ": not at the end " + end + " after 90 s");
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got.add(r.value());
                }
            }
            c.commitSync();
        }
        return got;
    }

    /**
     * Whether MirrorMaker has committed group's translated offsets on the
     * target within one offset sync of where it stopped on the source on
     * every partition. MirrorMaker writes an offset sync at least every
     * offset.lag.max (100) records it copies and translates a group's
     * offset through the newest sync at or before it, so a translated offset
     * lands at most 100 records short of the source offset, and never past it.
     */
    static boolean translated(Map<TopicPartition, Long> source, Map<TopicPartition, Long> target) {
        return source.entrySet().stream().allMatch(e -> target.containsKey(e.getKey())
                && target.get(e.getKey()) >= e.getValue() - OFFSET_LAG_MAX);
    }

    @Test
    void migrateGroupFromKafkaAndBack() throws Exception {
        long t0 = System.nanoTime();
        int first = 3000;
        int more = 1000;
        int switching = 500;
        int back = 1200;
        int backSwitching = 300;
        // On Kafka: a topic with a non-default config, and a group halfway through it.
        kafkaAdmin.createTopics(List.of(new NewTopic("orders", PARTITIONS, (short) 1)
                .configs(Map.of("retention.ms", RETENTION)))).all().get();
        produce(kafka.bootstrap(), "orders", "orders", 0, first);
        List<String> readOnKafka = consume(kafka.bootstrap(), "orders", "billing", first / 2, Set.of());
        // On silt: the topic and group that go the other way.
        Kafka.createTopic(siltAdmin, "returns", PARTITIONS);
        produce(silt.bootstrap(), "returns", "returns", 0, back);
        List<String> readOnSilt = consume(silt.bootstrap(), "returns", "shipping", back / 2, Set.of());

        Path props = silt.dir().resolve("mm2.properties");
        Files.writeString(props, mm2Properties(), StandardCharsets.UTF_8);
        mirror = new Jvm("mirror-maker", "connect", "512m", "org.apache.kafka.connect.mirror.MirrorMaker",
                List.of(props.toString()));
        mirror.start();
        // More records on Kafka while MirrorMaker runs.
        produce(kafka.bootstrap(), "orders", "orders", first, more);
        assertEquals(first + more, records(kafkaAdmin, "orders"));
        // Step 1 of README's switch: the topics copied.
        awaitMirror(() -> records(siltAdmin, "orders") == first + more && records(kafkaAdmin, "returns") == back,
                () -> "silt orders " + safeRecords(siltAdmin, "orders") + "/" + (first + more) + ", kafka returns "
                        + safeRecords(kafkaAdmin, "returns") + "/" + back);

        // The groups' members ran on until the switch; step 2: they stop,
        // and producers write on while the consumers move.
        readOnKafka.addAll(readToEnd(kafkaAdmin, kafka.bootstrap(), "orders", "billing"));
        readOnSilt.addAll(readToEnd(siltAdmin, silt.bootstrap(), "returns", "shipping"));
        Map<TopicPartition, Long> billingOnKafka = committed(kafkaAdmin, "billing");
        Map<TopicPartition, Long> shippingOnSilt = committed(siltAdmin, "shipping");
        produce(kafka.bootstrap(), "orders", "orders", first + more, switching);
        produce(silt.bootstrap(), "returns", "returns", back, backSwitching);
        long kafkaOrders = first + more + switching;
        long siltReturns = back + backSwitching;
        awaitMirror(() -> records(siltAdmin, "orders") == kafkaOrders && records(kafkaAdmin, "returns") == siltReturns
                        && translated(billingOnKafka, committed(siltAdmin, "billing"))
                        && translated(shippingOnSilt, committed(kafkaAdmin, "shipping")),
                () -> "silt orders " + safeRecords(siltAdmin, "orders") + "/" + kafkaOrders
                        + ", kafka returns " + safeRecords(kafkaAdmin, "returns") + "/" + siltReturns
                        + ", billing on silt " + committed(siltAdmin, "billing") + " (kafka " + billingOnKafka + ")"
                        + ", shipping on kafka " + committed(kafkaAdmin, "shipping") + " (silt " + shippingOnSilt + ")");
        double replicatedSeconds = (System.nanoTime() - t0) / 1e9;

        // The topic's config came along.
        Config cfg = siltAdmin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, "orders")))
                .all().get().values().iterator().next();
        assertEquals(RETENTION, cfg.get("retention.ms").value(), "retention.ms synced to silt");
        // Translated offsets never lie past where the group was on the other side.
        Map<TopicPartition, Long> billingOnSilt = committed(siltAdmin, "billing");
        Map<TopicPartition, Long> shippingOnKafka = committed(kafkaAdmin, "shipping");
        for (TopicPartition tp : billingOnKafka.keySet()) {
            assertTrue(billingOnSilt.get(tp) <= billingOnKafka.get(tp), "billing " + tp + ": silt "
                    + billingOnSilt.get(tp) + " past kafka " + billingOnKafka.get(tp));
        }
        for (TopicPartition tp : shippingOnSilt.keySet()) {
            assertTrue(shippingOnKafka.get(tp) <= shippingOnSilt.get(tp), "shipping " + tp + ": kafka "
                    + shippingOnKafka.get(tp) + " past silt " + shippingOnSilt.get(tp));
        }
        mirror.stopGracefully(Duration.ofSeconds(60));
        // Every Kafka API MirrorMaker called on silt was served (its topic
        // ACL sync once failed on DescribeAcls: silt now answers
        // SECURITY_DISABLED, as Kafka without an authorizer does).
        String mmLog = Files.readString(mirror.log(), StandardCharsets.UTF_8);
        assertFalse(mmLog.contains("UnsupportedVersionException"), "MirrorMaker met an API silt does not serve:\n"
                + mmLog.lines().filter(l -> l.contains("UnsupportedVersionException")).limit(5)
                        .collect(java.util.stream.Collectors.joining("\n")));

        // Step 3: consumers switched over continue: everything not read
        // before is read, and what is read again is within one offset sync
        // per partition.
        Set<String> restOfOrders = values("orders", 0, (int) kafkaOrders);
        restOfOrders.removeAll(readOnKafka);
        assertEquals(switching, restOfOrders.size(), "billing read every order but the last " + switching + " on Kafka");
        List<String> readAfterSwitch = consume(silt.bootstrap(), "orders", "billing", 0, restOfOrders);
        long reread = readAfterSwitch.stream().filter(new HashSet<>(readOnKafka)::contains).count();
        assertTrue(reread <= PARTITIONS * OFFSET_LAG_MAX, "billing on silt re-read " + reread
                + " of the " + readOnKafka.size() + " records it had read on Kafka");

        Set<String> restOfReturns = values("returns", 0, (int) siltReturns);
        restOfReturns.removeAll(readOnSilt);
        assertEquals(backSwitching, restOfReturns.size(), "shipping read every return but the last " + backSwitching + " on silt");
        List<String> readBack = consume(kafka.bootstrap(), "returns", "shipping", 0, restOfReturns);
        long rereadBack = readBack.stream().filter(new HashSet<>(readOnSilt)::contains).count();
        assertTrue(rereadBack <= PARTITIONS * OFFSET_LAG_MAX, "shipping on kafka re-read " + rereadBack
                + " of the " + readOnSilt.size() + " records it had read on silt");

        Summary.line(String.format("mirrormaker2 kafka 4.4.0 -> silt (%d agent(s)): %d records replicated, group billing "
                        + "read %d on kafka then %d on silt (re-read %d, bounded by the offset syncs); silt -> kafka: %d records, "
                        + "group shipping read %d on silt then %d on kafka (re-read %d); replicated and synced in %.0fs; %.0fs",
                silt.agents().size(), kafkaOrders, readOnKafka.size(), readAfterSwitch.size(), reread, siltReturns,
                readOnSilt.size(), readBack.size(), rereadBack, replicatedSeconds, (System.nanoTime() - t0) / 1e9));
    }

    interface Check {
        boolean ok() throws Exception;
    }

    /** Waits up to 240 s for done, failing with what MirrorMaker last logged if it exits or the time runs out. */
    void awaitMirror(Check done, Callable<String> state) throws Exception {
        Kafka.await(Duration.ofSeconds(240), () -> {
            if (!mirror.alive()) {
                throw new AssertionError("MirrorMaker exited:\n" + mirror.tail(60));
            }
            try {
                return done.ok();
            } catch (Exception e) {
                return false;
            }
        }, () -> state.call() + "\n" + mirror.tail(60));
    }

    static String safeRecords(Admin admin, String topic) {
        try {
            return Long.toString(records(admin, topic));
        } catch (Exception e) {
            return e.toString();
        }
    }
}
