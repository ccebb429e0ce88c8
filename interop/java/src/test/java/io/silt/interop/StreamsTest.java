package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka Streams 4.x word count, at-least-once, against a silt cluster: its
 * repartition and compacted changelog topics are created by Streams itself;
 * the output counts equal counts computed from the input; after a restart
 * with its local state wiped, the app restores the counts from the
 * changelog and goes on counting correctly. And the same word count with
 * processing.guarantee=exactly_once_v2 while agents are killed -9 and
 * restarted: the final counts equal the input's exactly, no word counted
 * twice.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
class StreamsTest {

    static final String APP = "silt-wordcount";
    static final String INPUT = "words-in";
    static final String OUTPUT = "word-counts-out";
    static final int PARTITIONS = 3;
    static final List<String> VOCABULARY = List.of(
            "object", "storage", "is", "the", "source", "of", "truth", "agents", "are", "stateless",
            "gossip", "routes", "storage", "decides", "kafka", "clients", "work", "unmodified", "one", "binary",
            "segment", "journal", "offset", "commit", "fetch", "produce", "group", "member", "rebalance", "bucket",
            "put", "if", "absent", "snapshot", "replay", "cache", "chunk", "zstd", "record", "batch");

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("StreamsTest", Silt.Backend.FILE);
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

    static Topology wordCount() {
        return wordCount(INPUT, OUTPUT);
    }

    static Topology wordCount(String input, String output) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.toLowerCase().split("\\W+")))
                .filter((k, word) -> !word.isEmpty())
                .groupBy((k, word) -> word, Grouped.with("by-word", Serdes.String(), Serdes.String()))
                .count(Materialized.as("word-counts"))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    Properties streamsConfig() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, APP);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, silt.bootstrap());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.STATE_DIR_CONFIG, silt.dir().resolve("streams-state").toString());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), "10000");
        // Kafka 5.0's default, set now to keep the 4.x warning out of the log.
        p.put("processing.exception.handler.global.enabled", "true");
        return p;
    }

    Map<String, Long> produceLines(int from, int n, Random rnd) throws Exception {
        return produceLines(silt.bootstrap(), INPUT, from, n, rnd);
    }

    Map<String, Long> produceLinesTo(String input, int from, int n, Random rnd) throws Exception {
        return produceLines(silt.bootstrap(), input, from, n, rnd);
    }

    /** Produces lines of words to the word count's input; returns how often each word occurs in them. */
    static Map<String, Long> produceLines(String bootstrap, int from, int n, Random rnd) throws Exception {
        return produceLines(bootstrap, INPUT, from, n, rnd);
    }

    /** Produces lines of words to input; returns how often each word occurs in them. */
    static Map<String, Long> produceLines(String bootstrap, String input, int from, int n, Random rnd) throws Exception {
        Map<String, Long> counts = new HashMap<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(bootstrap))) {
            for (int i = from; i < from + n; i++) {
                int words = 1 + rnd.nextInt(8);
                List<String> line = new ArrayList<>();
                for (int w = 0; w < words; w++) {
                    String word = VOCABULARY.get(rnd.nextInt(VOCABULARY.size()));
                    // Mixed case and punctuation, which the topology folds away.
                    line.add(rnd.nextInt(5) == 0 ? word.toUpperCase() + "," : word);
                    counts.merge(word, 1L, Long::sum);
                }
                producer.send(new ProducerRecord<>(input, "line-" + i, String.join(" ", line)));
            }
            producer.flush();
        }
        return counts;
    }

    @Test
    void wordCountRestoresFromChangelogAfterRestart() throws Exception {
        admin.createTopics(List.of(new NewTopic(INPUT, PARTITIONS, (short) 1), new NewTopic(OUTPUT, PARTITIONS, (short) 1)))
                .all().get();
        Random rnd = new Random(8);
        Map<String, Long> expected = new HashMap<>(produceLines(0, 1500, rnd));

        Map<String, Long> latest = new HashMap<>();
        try (KafkaConsumer<String, Long> out = outputConsumer()) {
            out.assign(Kafka.partitions(OUTPUT, PARTITIONS));
            out.seekToBeginning(Kafka.partitions(OUTPUT, PARTITIONS));

            // First run.
            KafkaStreams first = new KafkaStreams(wordCount(), streamsConfig());
            first.setUncaughtExceptionHandler(e -> {
                throw new AssertionError("stream thread died", e);
            });
            first.start();
            try {
                awaitRunning(first);
                awaitCounts(out, latest, expected, "first run");

                // Streams created its internal topics: a repartition topic
                // and a compacted changelog, partitioned like the input.
                Set<String> topics = admin.listTopics().names().get();
                String repartition = APP + "-by-word-repartition";
                String changelog = APP + "-word-counts-changelog";
                assertTrue(topics.contains(repartition) && topics.contains(changelog), "internal topics: " + topics);
                Map<String, Integer> parts = admin.describeTopics(List.of(repartition, changelog)).allTopicNames().get()
                        .entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().partitions().size()));
                assertEquals(Map.of(repartition, PARTITIONS, changelog, PARTITIONS), parts);
                assertEquals("compact", topicConfig(changelog).get("cleanup.policy").value());
                assertEquals("delete", topicConfig(repartition).get("cleanup.policy").value());
            } finally {
                first.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                        .withTimeout(Duration.ofSeconds(30)));
            }
            // Wipe the local state: the next run must restore it from the changelog.
            first.cleanUp();

            Map<String, Long> more = produceLines(1500, 1000, rnd);
            more.forEach((w, c) -> expected.merge(w, c, Long::sum));

            // Second run, on empty local state.
            AtomicLong restored = new AtomicLong();
            KafkaStreams second = new KafkaStreams(wordCount(), streamsConfig());
            second.setGlobalStateRestoreListener(new StateRestoreListener() {
                @Override
                public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                }

                @Override
                public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
                    restored.addAndGet(n);
                }

                @Override
                public void onRestoreEnd(TopicPartition tp, String store, long total) {
                }
            });
            second.setUncaughtExceptionHandler(e -> {
                throw new AssertionError("stream thread died", e);
            });
            second.start();
            try {
                awaitRunning(second);
                awaitCounts(out, latest, expected, "after the restart");
            } finally {
                second.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                        .withTimeout(Duration.ofSeconds(30)));
            }
            assertTrue(restored.get() >= VOCABULARY.stream().distinct().count(),
                    "restored " + restored.get() + " changelog records");
            Summary.line(String.format("streams word count: %d words in 2500 lines, %d distinct; restart restored %d changelog records; counts exact",
                    expected.values().stream().mapToLong(Long::longValue).sum(), expected.size(), restored.get()));
        }
    }

    @Test
    void wordCountExactlyOnceAcrossAgentKills() throws Exception {
        String input = "eos-words-in", output = "eos-word-counts-out";
        admin.createTopics(List.of(new NewTopic(input, PARTITIONS, (short) 1), new NewTopic(output, PARTITIONS, (short) 1)))
                .all().get();
        Random rnd = new Random(9);
        Map<String, Long> expected = new HashMap<>(produceLinesTo(input, 0, 2000, rnd));
        Properties config = streamsConfig();
        config.put(StreamsConfig.APPLICATION_ID_CONFIG, APP + "-eos");
        config.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        config.put(StreamsConfig.STATE_DIR_CONFIG, silt.dir().resolve("streams-state-eos").toString());
        Map<String, Long> latest = new HashMap<>();
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, silt.bootstrap());
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
        int kills = 0;
        try (KafkaConsumer<String, Long> out = new KafkaConsumer<>(cp)) {
            out.assign(Kafka.partitions(output, PARTITIONS));
            out.seekToBeginning(Kafka.partitions(output, PARTITIONS));
            KafkaStreams streams = new KafkaStreams(wordCount(input, output), config);
            streams.setUncaughtExceptionHandler(e -> StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD);
            streams.start();
            try {
                awaitRunning(streams);
                // Kill an agent -9 twice while lines keep coming, restarting
                // it each time.
                for (int round = 0; round < 2; round++) {
                    Map<String, Long> more = produceLinesTo(input, 2000 + round * 1000, 1000, rnd);
                    more.forEach((w, c) -> expected.merge(w, c, Long::sum));
                    Silt.Agent victim = silt.agent(1 + round % (silt.agents().size() - 1));
                    Thread.sleep(300);
                    victim.kill9();
                    kills++;
                    Thread.sleep(2000);
                    victim.restart();
                }
                awaitCounts(out, latest, expected, "exactly_once_v2 after " + kills + " kills");
            } finally {
                streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                        .withTimeout(Duration.ofSeconds(30)));
            }
        }
        Summary.line(String.format("streams word count exactly_once_v2: %d words in 4000 lines, %d agents killed -9; counts exact",
                expected.values().stream().mapToLong(Long::longValue).sum(), kills));
    }

    private Config topicConfig(String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return admin.describeConfigs(List.of(r)).all().get().get(r);
    }

    private KafkaConsumer<String, Long> outputConsumer() {
        return outputConsumer(silt.bootstrap());
    }

    /** A consumer of the word counts. */
    static KafkaConsumer<String, Long> outputConsumer(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    private static void awaitRunning(KafkaStreams streams) throws Exception {
        Kafka.await(Duration.ofSeconds(60), () -> streams.state() == KafkaStreams.State.RUNNING,
                () -> "streams state " + streams.state());
    }

    /** Reads the output until the latest count of every word is the expected one. */
    static void awaitCounts(KafkaConsumer<String, Long> out, Map<String, Long> latest,
            Map<String, Long> expected, String when) {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (!latest.equals(expected)) {
            if (System.nanoTime() > deadline) {
                Map<String, String> diff = new HashMap<>();
                expected.forEach((w, c) -> {
                    if (!c.equals(latest.get(w))) {
                        diff.put(w, "want " + c + " got " + latest.get(w));
                    }
                });
                throw new AssertionError(when + ": counts differ: " + diff);
            }
            for (ConsumerRecord<String, Long> r : out.poll(Duration.ofMillis(200))) {
                latest.put(r.key(), r.value());
            }
        }
        // Nothing more arrives that would change a count.
        long quiet = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (System.nanoTime() < quiet) {
            for (ConsumerRecord<String, Long> r : out.poll(Duration.ofMillis(200))) {
                latest.put(r.key(), r.value());
            }
        }
        assertEquals(expected, latest, when + ": counts after the output went quiet");
    }
}
