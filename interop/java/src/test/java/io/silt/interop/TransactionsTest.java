package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Transactions with Kafka 4.4's Java client against silt: a transactional
 * producer that aborts every other transaction, read by read_committed
 * (none of the aborted records) and read_uncommitted (all) consumers; a
 * zombie producer fenced by a new one with the same transactional.id; a
 * consume-transform-produce loop committing its offsets in the transaction
 * (sendOffsetsToTransaction); and kafka-transactions.sh list and describe.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class TransactionsTest {

    static final String TRANSACTIONS_COMMAND = "org.apache.kafka.tools.TransactionsCommand";

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("TransactionsTest", Silt.Backend.FILE);
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

    private KafkaProducer<String, String> producer(String txnId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", silt.bootstrap());
        p.put("transactional.id", txnId);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private KafkaConsumer<String, String> consumer(String isolation, String group) {
        Properties p = new Properties();
        p.put("bootstrap.servers", silt.bootstrap());
        p.put("isolation.level", isolation);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        if (group != null) {
            p.put("group.id", group);
        }
        return new KafkaConsumer<>(p);
    }

    /** Reads a topic from the start until n values are seen or the time is up. */
    private Map<String, Integer> readAll(String topic, int partitions, String isolation, int n) {
        Map<String, Integer> seen = new HashMap<>();
        try (KafkaConsumer<String, String> c = consumer(isolation, null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (seen.size() < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    seen.merge(r.value(), 1, Integer::sum);
                }
            }
            // Poll on a little: nothing more may arrive.
            for (int i = 0; i < 3; i++) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) {
                    seen.merge(r.value(), 1, Integer::sum);
                }
            }
        }
        return seen;
    }

    @Test
    void abortEveryOtherTransaction() throws Exception {
        String topic = "java-txn-every-other";
        createTopic(topic, 3);
        int txns = 10, per = 20;
        try (KafkaProducer<String, String> p = producer("java-every-other")) {
            p.initTransactions();
            for (int t = 0; t < txns; t++) {
                p.beginTransaction();
                for (int r = 0; r < per; r++) {
                    p.send(new ProducerRecord<>(topic, "k" + r, "t" + t + "-r" + r));
                }
                if (t % 2 == 0) {
                    p.commitTransaction();
                } else {
                    p.flush();
                    p.abortTransaction();
                }
            }
        }
        Map<String, Integer> committed = readAll(topic, 3, "read_committed", txns / 2 * per);
        assertEquals(txns / 2 * per, committed.size(), "read_committed values");
        committed.forEach((v, n) -> {
            assertEquals(1, n, v + " read more than once");
            int t = Integer.parseInt(v.substring(1, v.indexOf('-')));
            assertEquals(0, t % 2, v + " is from an aborted transaction");
        });
        Map<String, Integer> all = readAll(topic, 3, "read_uncommitted", txns * per);
        assertEquals(txns * per, all.size(), "read_uncommitted values");
    }

    @Test
    void zombieIsFenced() throws Exception {
        String topic = "java-txn-zombie";
        createTopic(topic, 1);
        try (KafkaProducer<String, String> zombie = producer("java-zombie");
                KafkaProducer<String, String> fresh = producer("java-zombie")) {
            zombie.initTransactions();
            zombie.beginTransaction();
            zombie.send(new ProducerRecord<>(topic, "zombie-1")).get(30, TimeUnit.SECONDS);
            fresh.initTransactions();
            fresh.beginTransaction();
            fresh.send(new ProducerRecord<>(topic, "fresh-1")).get(30, TimeUnit.SECONDS);
            // Kafka answers the zombie's produce INVALID_PRODUCER_EPOCH
            // (KIP-588), and its commit then fails.
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> zombie.send(new ProducerRecord<>(topic, "zombie-2")).get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof InvalidProducerEpochException || e.getCause() instanceof ProducerFencedException,
                    "the zombie's produce: " + e);
            assertThrows(KafkaException.class, zombie::commitTransaction, "the zombie's commit must fail");
            fresh.commitTransaction();
        }
        Map<String, Integer> seen = readAll(topic, 1, "read_committed", 1);
        assertEquals(Map.of("fresh-1", 1), seen);
    }

    @Test
    void consumeTransformProduceCommitsOffsetsInTheTransaction() throws Exception {
        String in = "java-txn-in", out = "java-txn-out", group = "java-txn-etl";
        createTopic(in, 2);
        createTopic(out, 2);
        Properties pp = new Properties();
        pp.put("bootstrap.servers", silt.bootstrap());
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        int n = 200;
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++) {
                plain.send(new ProducerRecord<>(in, "k" + i, "v" + i));
            }
        }
        int copied = 0, round = 0;
        try (KafkaConsumer<String, String> c = consumer("read_committed", group);
                KafkaProducer<String, String> p = producer("java-etl")) {
            p.initTransactions();
            c.subscribe(List.of(in));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (copied < n && System.nanoTime() < deadline) {
                var records = c.poll(Duration.ofMillis(500));
                if (records.isEmpty()) {
                    continue;
                }
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    p.send(new ProducerRecord<>(out, r.key(), r.value()));
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                p.sendOffsetsToTransaction(offsets, c.groupMetadata());
                // Every third round is aborted, and those records consumed
                // again from the committed offsets.
                if (++round % 3 == 0) {
                    p.abortTransaction();
                    for (TopicPartition tp : offsets.keySet()) {
                        OffsetAndMetadata committed = c.committed(java.util.Set.of(tp)).get(tp);
                        c.seek(tp, committed == null ? 0 : committed.offset());
                    }
                    continue;
                }
                p.commitTransaction();
                copied += records.count();
            }
        }
        assertEquals(n, copied, "records copied in committed transactions");
        Map<String, Integer> seen = readAll(out, 2, "read_committed", n);
        assertEquals(n, seen.size(), "distinct committed output records");
        seen.forEach((v, k) -> assertEquals(1, k, v + " copied more than once"));
        var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        long total = committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        assertEquals(n, total, "the group's committed offsets: " + committed);
    }

    static final String COPIER = "org.apache.kafka.tools.TransactionalMessageCopier";

    /** Starts a copier of one input partition, its stdout drained. */
    private Process copier(String in, String out, int partition, boolean randomAborts) throws Exception {
        List<String> args = new ArrayList<>(List.of("--broker-list", silt.bootstrap(), "--input-topic", in,
                "--input-partition", String.valueOf(partition), "--output-topic", out,
                "--transactional-id", "copier-" + in + "-" + partition, "--consumer-group", "copier-" + in,
                "--transaction-size", "100", "--use-group-metadata"));
        if (randomAborts) {
            args.add("--enable-random-aborts");
        }
        Process p = Tool.spawn(COPIER, args);
        Thread drain = new Thread(() -> {
            try {
                p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            } catch (java.io.IOException e) {
                // the process is gone
            }
        });
        drain.setDaemon(true);
        drain.start();
        return p;
    }

    /**
     * Kafka's TransactionalMessageCopier (the copier of Kafka's
     * transactions_test.py), one per input partition, with random aborts,
     * while two agents are killed -9 and restarted; a copier that exits
     * before it is done is started again, as the system test bounces them.
     * A read_committed consumer then finds every input value in the output
     * exactly once.
     */
    @Test
    void messageCopierExactlyOnceAcrossAgentKills() throws Exception {
        String in = "copier-in", out = "copier-out";
        int partitions = 3, n = 6000;
        createTopic(in, partitions);
        createTopic(out, partitions);
        Properties pp = new Properties();
        pp.put("bootstrap.servers", silt.bootstrap());
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++) {
                plain.send(new ProducerRecord<>(in, i % partitions, null, String.valueOf(i)));
            }
        }
        Process[] copiers = new Process[partitions];
        boolean[] done = new boolean[partitions];
        int restarts = 0, kills = 0;
        for (int i = 0; i < partitions; i++) {
            copiers[i] = copier(in, out, i, true);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        try {
            while (System.nanoTime() < deadline) {
                if (kills < 2) {
                    Thread.sleep(1500);
                    Silt.Agent victim = silt.agent(1 + kills % (silt.agents().size() - 1));
                    victim.kill9();
                    kills++;
                    Thread.sleep(1500);
                    victim.restart();
                }
                int finished = 0;
                for (int i = 0; i < partitions; i++) {
                    if (done[i] || copiers[i].isAlive()) {
                        finished += done[i] ? 1 : 0;
                        continue;
                    }
                    if (copiers[i].exitValue() == 0) {
                        done[i] = true;
                        finished++;
                    } else {
                        copiers[i] = copier(in, out, i, true);
                        restarts++;
                    }
                }
                if (finished == partitions) {
                    break;
                }
                Thread.sleep(200);
            }
        } finally {
            for (Process p : copiers) {
                p.destroyForcibly();
            }
        }
        for (int i = 0; i < partitions; i++) {
            assertTrue(done[i], "copier of partition " + i + " did not finish");
        }
        Map<String, Integer> seen = readAll(out, partitions, "read_committed", n);
        assertEquals(n, seen.size(), "distinct input values in the output");
        seen.forEach((v, k) -> assertEquals(1, k, v + " copied " + k + " times"));
        Summary.line(String.format("TransactionalMessageCopier: %d values over %d partitions with random aborts, %d agents killed -9, %d copier restarts; each value once",
                n, partitions, kills, restarts));
    }

    @Test
    void transactionsCommand() throws Exception {
        String topic = "java-txn-tool";
        createTopic(topic, 1);
        try (KafkaProducer<String, String> p = producer("java-tool")) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, "open")).get(30, TimeUnit.SECONDS);
            Tool.Result listed = Tool.run(Duration.ofSeconds(60), null, TRANSACTIONS_COMMAND,
                    "--bootstrap-server", silt.bootstrap(), "list").check();
            assertTrue(listed.stdout().lines().anyMatch(l -> l.startsWith("java-tool") && l.contains("Ongoing")), listed.toString());
            Tool.Result described = Tool.run(Duration.ofSeconds(60), null, TRANSACTIONS_COMMAND,
                    "--bootstrap-server", silt.bootstrap(), "describe", "--transactional-id", "java-tool").check();
            assertTrue(described.stdout().contains("Ongoing") && described.stdout().contains(topic + "-0"), described.toString());
            p.commitTransaction();
        }
        assertEquals(Map.of("open", 1), readAll(topic, 1, "read_committed", 1));
    }

    /**
     * kafka-transactions.sh on an open transaction: describe-producers shows
     * where it starts, find-hanging finds nothing (its coordinator knows it),
     * and abort ends it: read_committed reads none of it, and the producer
     * is fenced, as a timeout fences it.
     */
    @Test
    void transactionsCommandAbortsAnOpenTransaction() throws Exception {
        String topic = "java-txn-abort";
        createTopic(topic, 1);
        String broker = Integer.toString(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).iterator().next().id());
        try (KafkaProducer<String, String> p = producer("java-abort")) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 5; i++) {
                p.send(new ProducerRecord<>(topic, "doomed-" + i)).get(30, TimeUnit.SECONDS);
            }
            Tool.Result producers = Tool.run(Duration.ofSeconds(60), null, TRANSACTIONS_COMMAND, "--bootstrap-server",
                    silt.bootstrap(), "describe-producers", "--topic", topic, "--partition", "0").check();
            // Columns: ProducerId ProducerEpoch LatestCoordinatorEpoch LastSequence
            // LastTimestamp CurrentTransactionStartOffset; the open one starts at 0.
            assertTrue(producers.stdout().lines().map(l -> l.trim().split("\\s+"))
                    .anyMatch(f -> f.length == 6 && f[0].matches("\\d+") && f[5].equals("0")), producers.toString());
            Tool.Result hanging = Tool.run(Duration.ofSeconds(60), null, TRANSACTIONS_COMMAND, "--bootstrap-server",
                    silt.bootstrap(), "find-hanging", "--broker-id", broker).check();
            assertTrue(hanging.stdout().lines().noneMatch(l -> l.startsWith(topic)), hanging.toString());
            Tool.run(Duration.ofSeconds(60), null, TRANSACTIONS_COMMAND, "--bootstrap-server", silt.bootstrap(),
                    "abort", "--topic", topic, "--partition", "0", "--start-offset", "0").check();
            KafkaException e = assertThrows(KafkaException.class, p::commitTransaction);
            assertTrue(e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException
                    || e.getCause() instanceof ProducerFencedException || e.getCause() instanceof InvalidProducerEpochException, e.toString());
        }
        try (KafkaProducer<String, String> p = producer("java-abort")) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, "after")).get(30, TimeUnit.SECONDS);
            p.commitTransaction();
        }
        assertEquals(Map.of("after", 1), readAll(topic, 1, "read_committed", 1));
    }
}
