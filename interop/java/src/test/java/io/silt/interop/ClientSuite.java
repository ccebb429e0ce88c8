package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java client (kafka-clients) against a silt cluster: the producer with
 * its 4.x defaults and every codec, consumer groups of three with both group
 * protocols, commitSync, seek and offsetsForTimes. Run once per backend by
 * its subclasses.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
abstract class ClientSuite {

    abstract Silt.Backend backend();

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start(getClass().getSimpleName(), backend());
        admin = Kafka.admin(silt.bootstrap());
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

    @ParameterizedTest(name = "compression.type={0}")
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void producerDefaultsEveryCodecWithHeaders(String codec) throws Exception {
        String topic = "codec-" + codec;
        Kafka.createTopic(admin, topic, 3);
        Properties props = Kafka.producer(silt.bootstrap());
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        // Nothing else is set: the 4.x defaults are acks=all and idempotence on.
        ProducerConfig effective = new ProducerConfig(props);
        assertEquals("-1", effective.getString(ProducerConfig.ACKS_CONFIG));
        assertTrue(effective.getBoolean(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG));

        int n = 600;
        Map<String, RecordMetadata> sent = new HashMap<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "key-" + i, value(codec, i));
                r.headers().add("index", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                r.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
                r.headers().add("empty", new byte[0]);
                futures.add(producer.send(r));
            }
            producer.flush();
            for (int i = 0; i < n; i++) {
                sent.put("key-" + i, futures.get(i).get());
            }
        }
        // The default partitioner spreads keys over all three partitions.
        assertEquals(3, sent.values().stream().map(RecordMetadata::partition).distinct().count());

        Map<String, ConsumerRecord<String, String>> got = new HashMap<>();
        Map<Integer, Long> lastOffset = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Kafka.consumer(silt.bootstrap(), null))) {
            consumer.assign(Kafka.partitions(topic, 3));
            consumer.seekToBeginning(Kafka.partitions(topic, 3));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got.size() < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    Long prev = lastOffset.put(r.partition(), r.offset());
                    assertTrue(prev == null || r.offset() > prev, "offsets go forward in partition " + r.partition());
                    assertNull(got.put(r.key(), r), "record " + r.key() + " read twice");
                }
            }
        }
        assertEquals(n, got.size(), "records read back");
        for (int i = 0; i < n; i++) {
            String key = "key-" + i;
            ConsumerRecord<String, String> r = got.get(key);
            RecordMetadata md = sent.get(key);
            assertEquals(md.partition(), r.partition(), key);
            assertEquals(md.offset(), r.offset(), key);
            assertEquals(value(codec, i), r.value(), key);
            List<Header> headers = new ArrayList<>();
            r.headers().forEach(headers::add);
            assertEquals(List.of(
                    new RecordHeader("index", Integer.toString(i).getBytes(StandardCharsets.UTF_8)),
                    new RecordHeader("codec", codec.getBytes(StandardCharsets.UTF_8)),
                    new RecordHeader("empty", new byte[0])), headers, key);
        }
    }

    private static String value(String codec, int i) {
        return (codec + " record " + i + " ").repeat(1 + i % 20);
    }

    /**
     * Three consumers of one group join one by one, then one leaves; each
     * commits synchronously after every poll. Every record produced while
     * the group changes shape is consumed, and the committed offsets end at
     * the log end.
     */
    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void groupOfThreeRebalancesOnJoinAndLeave(String protocol) throws Exception {
        String topic = "group-" + protocol;
        String group = "group-" + protocol;
        int partitions = 6;
        Kafka.createTopic(admin, topic, partitions);

        Set<String> consumed = ConcurrentHashMap.newKeySet();
        AtomicInteger duplicates = new AtomicInteger();
        List<Member> members = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            int[] produced = {0};
            Runnable produce = () -> {
                for (int i = 0; i < 300; i++, produced[0]++) {
                    producer.send(new ProducerRecord<>(topic, "k" + produced[0], "v" + produced[0]));
                }
                producer.flush();
            };
            produce.run();
            for (int m = 0; m < 3; m++) {
                Member member = new Member(silt.bootstrap(), protocol, group, topic, "c" + m, consumed, duplicates);
                members.add(member);
                member.start();
                int live = m + 1;
                Kafka.await(Duration.ofSeconds(60), () -> balanced(members, partitions, live),
                        () -> "assignment after member " + live + " joined: " + assignments(members));
                produce.run();
            }
            // The second member leaves the group (close sends LeaveGroup, or a
            // heartbeat with epoch -1); the other two take its partitions.
            members.get(1).close();
            Kafka.await(Duration.ofSeconds(60), () -> balanced(members, partitions, 2),
                    () -> "assignment after member c1 left: " + assignments(members));
            produce.run();

            int total = produced[0];
            Kafka.await(Duration.ofSeconds(60), () -> consumed.size() >= total,
                    () -> "consumed " + consumed.size() + " of " + total);
            for (int i = 0; i < total; i++) {
                assertTrue(consumed.contains("k" + i + "=v" + i), "record " + i + " consumed");
            }
            // The last commits land after the last records are processed.
            Map<TopicPartition, Long> end = Kafka.endOffsets(admin, Kafka.partitions(topic, partitions));
            Kafka.await(Duration.ofSeconds(30), () -> end.equals(committed(group)),
                    () -> "committed " + committed(group) + ", log end " + end);
        } finally {
            for (Member m : members) {
                m.close();
            }
        }
        for (Member m : members) {
            if (m.failure.get() != null) {
                throw new AssertionError(m.name + " failed", m.failure.get());
            }
        }
        Summary.line(String.format("client %s bucket, %d agent(s), group.protocol=%s: 3 members joined, 1 left, %d records consumed, %d duplicates after rebalances",
                backend(), silt.agents().size(), protocol, consumed.size(), duplicates.get()));
    }

    private Map<TopicPartition, Long> committed(String group) {
        try {
            Map<TopicPartition, Long> out = new HashMap<>();
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                    .forEach((tp, om) -> out.put(tp, om == null ? -1 : om.offset()));
            return out;
        } catch (Exception e) {
            return Map.of();
        }
    }

    private static boolean balanced(List<Member> members, int partitions, int live) {
        Set<TopicPartition> all = new HashSet<>();
        int count = 0;
        int sum = 0;
        for (Member m : members) {
            if (m.closed) {
                continue;
            }
            Set<TopicPartition> a = m.assignment.get();
            if (a.isEmpty() || a.size() != partitions / live) {
                return false;
            }
            all.addAll(a);
            sum += a.size();
            count++;
        }
        return count == live && all.size() == partitions && sum == partitions;
    }

    private static String assignments(List<Member> members) {
        StringBuilder b = new StringBuilder();
        for (Member m : members) {
            b.append(m.name).append(m.closed ? "(closed)" : "").append('=').append(m.assignment.get()).append(' ');
        }
        return b.toString();
    }

    /** One group member polling on its own thread. */
    static final class Member {
        final String name;
        final KafkaConsumer<String, String> consumer;
        final String topic;
        final Set<String> consumed;
        final AtomicInteger duplicates;
        final AtomicReference<Set<TopicPartition>> assignment = new AtomicReference<>(Set.of());
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread;
        volatile boolean closed;

        Member(String bootstrap, String protocol, String group, String topic, String name,
                Set<String> consumed, AtomicInteger duplicates) {
            this.name = name;
            this.topic = topic;
            this.consumed = consumed;
            this.duplicates = duplicates;
            Properties p = Kafka.consumer(bootstrap, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
            p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
            this.consumer = new KafkaConsumer<>(p);
            this.thread = new Thread(this::loop, "member-" + name);
        }

        void start() {
            thread.start();
        }

        private void loop() {
            try {
                consumer.subscribe(List.of(topic));
                while (!closed) {
                    ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                    assignment.set(Set.copyOf(consumer.assignment()));
                    for (ConsumerRecord<String, String> r : records) {
                        if (!consumed.add(r.key() + "=" + r.value())) {
                            duplicates.incrementAndGet();
                        }
                    }
                    if (!records.isEmpty()) {
                        try {
                            consumer.commitSync();
                        } catch (RebalanceInProgressException | CommitFailedException e) {
                            // The group is rebalancing: the next poll rejoins,
                            // and whoever gets these partitions re-reads from
                            // the last commit (counted as duplicates).
                        }
                    }
                }
            } catch (org.apache.kafka.common.errors.WakeupException | org.apache.kafka.common.errors.InterruptException e) {
                // closing
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(10)));
                assignment.set(Set.of());
            }
        }

        void close() throws InterruptedException {
            if (closed) {
                return;
            }
            closed = true;
            thread.join(30_000);
        }
    }

    /** seek, seekToBeginning/End, offsetsForTimes, commitSync with metadata, committed. */
    @Test
    void seekOffsetsForTimesAndCommitSync() throws Exception {
        String topic = "seek";
        Kafka.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 3_600_000;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            for (int i = 0; i < 20; i++) {
                producer.send(new ProducerRecord<>(topic, 0, base + i * 1000L, "k" + i, "v" + i));
            }
            producer.flush();
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Kafka.consumer(silt.bootstrap(), "seek-group"))) {
            consumer.assign(List.of(tp));
            assertEquals(Map.of(tp, 0L), consumer.beginningOffsets(List.of(tp)));
            assertEquals(Map.of(tp, 20L), consumer.endOffsets(List.of(tp)));

            Map<TopicPartition, OffsetAndTimestamp> at = consumer.offsetsForTimes(Map.of(tp, base + 5500));
            assertEquals(6, at.get(tp).offset(), "first offset with timestamp >= base+5.5s");
            assertEquals(base + 6000, at.get(tp).timestamp());
            assertEquals(0, consumer.offsetsForTimes(Map.of(tp, base - 1000)).get(tp).offset());
            assertNull(consumer.offsetsForTimes(Map.of(tp, base + 100_000)).get(tp), "no record that late");

            consumer.seek(tp, at.get(tp).offset());
            ConsumerRecord<String, String> first = pollOne(consumer);
            assertEquals(6, first.offset());
            assertEquals("v6", first.value());
            assertEquals(base + 6000, first.timestamp());

            consumer.seek(tp, 15);
            assertEquals(15, pollOne(consumer).offset());

            consumer.seekToBeginning(List.of(tp));
            assertEquals(0, consumer.position(tp));
            consumer.seekToEnd(List.of(tp));
            assertEquals(20, consumer.position(tp));

            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(7, "seven")));
            OffsetAndMetadata c = consumer.committed(Set.of(tp)).get(tp);
            assertNotNull(c);
            assertEquals(7, c.offset());
            assertEquals("seven", c.metadata());
        }
        // A new member of the group starts at the committed offset.
        Properties p = Kafka.consumer(silt.bootstrap(), "seek-group");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(List.of(tp));
            assertEquals(7, pollOne(consumer).offset());
        }
    }

    private static ConsumerRecord<String, String> pollOne(KafkaConsumer<String, String> consumer) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            ConsumerRecords<String, String> rs = consumer.poll(Duration.ofMillis(200));
            if (!rs.isEmpty()) {
                return rs.iterator().next();
            }
        }
        throw new AssertionError("no record within 30s");
    }
}
