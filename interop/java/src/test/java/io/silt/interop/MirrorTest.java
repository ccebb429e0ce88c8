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
 * side, so a consumer switched over continues where it stopped: every record
 * is consumed at least once, and the number read again is bounded and
 * reported. The configuration is the one README's "Migrating from Kafka"
 * shows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(480)
class MirrorTest {

    static final int PARTITIONS = 3;
    static final String RETENTION = "123456789";

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

    @Test
    void migrateGroupFromKafkaAndBack() throws Exception {
        long t0 = System.nanoTime();
        int first = 3000;
        int more = 1000;
        int back = 1200;
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

        long kafkaOrders = records(kafkaAdmin, "orders");
        assertEquals(first + more, kafkaOrders);
        Map<TopicPartition, Long> billingOnKafka = committed(kafkaAdmin, "billing");
        Map<TopicPartition, Long> shippingOnSilt = committed(siltAdmin, "shipping");
        Kafka.await(Duration.ofSeconds(240), () -> {
            if (!mirror.alive()) {
                throw new AssertionError("MirrorMaker exited:\n" + mirror.tail(60));
            }
            try {
                return records(siltAdmin, "orders") == kafkaOrders && records(kafkaAdmin, "returns") == back
                        && committed(siltAdmin, "billing").size() == billingOnKafka.size()
                        && committed(kafkaAdmin, "shipping").size() == shippingOnSilt.size();
            } catch (Exception e) {
                return false;
            }
        }, () -> "replication: silt orders " + safeRecords(siltAdmin, "orders") + "/" + kafkaOrders
                + ", kafka returns " + safeRecords(kafkaAdmin, "returns") + "/" + back
                + ", billing on silt " + committed(siltAdmin, "billing") + " (kafka " + billingOnKafka + ")"
                + ", shipping on kafka " + committed(kafkaAdmin, "shipping") + " (silt " + shippingOnSilt + ")\n"
                + mirror.tail(60));
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

        // Consumers switched over continue: everything not read before is read; re-reads counted.
        Set<String> restOfOrders = values("orders", 0, first + more);
        restOfOrders.removeAll(readOnKafka);
        List<String> readAfterSwitch = consume(silt.bootstrap(), "orders", "billing", 0, restOfOrders);
        long reread = readAfterSwitch.stream().filter(new HashSet<>(readOnKafka)::contains).count();
        assertTrue(reread < readOnKafka.size(), "billing started over on silt: re-read " + reread
                + " of the " + readOnKafka.size() + " records it had read on Kafka");

        Set<String> restOfReturns = values("returns", 0, back);
        restOfReturns.removeAll(readOnSilt);
        List<String> readBack = consume(kafka.bootstrap(), "returns", "shipping", 0, restOfReturns);
        long rereadBack = readBack.stream().filter(new HashSet<>(readOnSilt)::contains).count();
        assertTrue(rereadBack < readOnSilt.size(), "shipping started over on kafka: re-read " + rereadBack
                + " of the " + readOnSilt.size() + " records it had read on silt");

        Summary.line(String.format("mirrormaker2 kafka 4.4.0 -> silt (%d agent(s)): %d records replicated, group billing "
                        + "read %d on kafka then %d on silt (re-read %d, bounded by the offset syncs); silt -> kafka: %d records, "
                        + "group shipping read %d on silt then %d on kafka (re-read %d); replicated and synced in %.0fs; %.0fs",
                silt.agents().size(), first + more, readOnKafka.size(), readAfterSwitch.size(), reread, back,
                readOnSilt.size(), readBack.size(), rereadBack, replicatedSeconds, (System.nanoTime() - t0) / 1e9));
    }

    static String safeRecords(Admin admin, String topic) {
        try {
            return Long.toString(records(admin, topic));
        } catch (Exception e) {
            return e.toString();
        }
    }
}
