package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeProducersResult;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * What Kafka clients meet that Kafka 4.x answers (issue 19): the admin APIs
 * of Kafka's own tools (kafka-configs for quotas, kafka-log-dirs), the
 * Java AdminClient's describeTopics through DescribeTopicPartitions with
 * authorized operations, replica assignments, leader elections and
 * reassignments, idempotent producers, and produce as a topic's configs
 * ask (compacted topics, LogAppendTime). On a file bucket.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class ConformanceTest {

    static final String CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand";
    static final String LOG_DIRS_COMMAND = "org.apache.kafka.tools.LogDirsCommand";
    static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("ConformanceTest", Silt.Backend.FILE);
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

    private Tool.Result tool(String main, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap()));
        all.addAll(Arrays.asList(args));
        return Tool.run(TOOL_TIMEOUT, null, main, all.toArray(String[]::new));
    }

    /** kafka-configs --entity-type clients/users alters and describes client quotas (AlterClientQuotas, DescribeClientQuotas). */
    @Test
    void configCommandClientQuotas() throws Exception {
        tool(CONFIG_COMMAND, "--entity-type", "clients", "--entity-name", "conformance-app",
                "--alter", "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152").check();
        tool(CONFIG_COMMAND, "--entity-type", "users", "--entity-name", "alice",
                "--alter", "--add-config", "request_percentage=50").check();
        Tool.Result described = AdminSuite.eventually(
                () -> tool(CONFIG_COMMAND, "--entity-type", "clients", "--entity-name", "conformance-app", "--describe").check(),
                r -> r.stdout().contains("producer_byte_rate=1048576"), "the client quota described");
        assertTrue(described.stdout().contains("consumer_byte_rate=2097152"), described.toString());

        Map<ClientQuotaEntity, Map<String, Double>> all = admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get();
        assertEquals(Map.of("request_percentage", 50.0),
                all.get(new ClientQuotaEntity(Map.of(ClientQuotaEntity.USER, "alice"))), all.toString());

        tool(CONFIG_COMMAND, "--entity-type", "clients", "--entity-name", "conformance-app",
                "--alter", "--delete-config", "producer_byte_rate,consumer_byte_rate").check();
        AdminSuite.eventually(() -> admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get(),
                m -> !m.containsKey(new ClientQuotaEntity(Map.of(ClientQuotaEntity.CLIENT_ID, "conformance-app"))),
                "the client quota removed");

        ExecutionException bad = assertThrows(ExecutionException.class, () -> admin.alterClientQuotas(List.of(
                new ClientQuotaAlteration(new ClientQuotaEntity(Map.of(ClientQuotaEntity.USER, "bob")),
                        List.of(new ClientQuotaAlteration.Op("no_such_quota", 1.0))))).all().get());
        assertInstanceOf(org.apache.kafka.common.errors.InvalidRequestException.class, bad.getCause());
    }

    /**
     * describeTopics and describeCluster with authorized operations: the
     * Java admin describes topics with DescribeTopicPartitions in 4.x, and
     * a broker without an authorizer reports every operation.
     */
    @Test
    void describeWithAuthorizedOperations() throws Exception {
        Kafka.createTopic(admin, "conformance-described", 3);
        TopicDescription d = AdminSuite.eventually(
                () -> admin.describeTopics(List.of("conformance-described"), new DescribeTopicsOptions().includeAuthorizedOperations(true))
                        .allTopicNames().get().get("conformance-described"),
                x -> true, "topic described");
        assertEquals(3, d.partitions().size());
        assertEquals(Set.of(AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE, AclOperation.ALTER,
                AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS), d.authorizedOperations());
        Set<AclOperation> cluster = admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true))
                .authorizedOperations().get();
        assertTrue(cluster.containsAll(Set.of(AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CREATE,
                AclOperation.IDEMPOTENT_WRITE, AclOperation.CLUSTER_ACTION)), cluster.toString());
    }

    /** Replica assignments naming live agents are accepted; elections are not needed; no reassignment is ever in progress. */
    @Test
    void assignmentsElectionsAndReassignments() throws Exception {
        List<Integer> ids = admin.describeCluster().nodes().get().stream().map(Node::id).sorted().collect(Collectors.toList());
        Map<Integer, List<Integer>> assignment = new HashMap<>();
        for (int p = 0; p < 4; p++) {
            assignment.put(p, List.of(ids.get(p % ids.size())));
        }
        admin.createTopics(List.of(new NewTopic("conformance-assigned", assignment))).all().get();
        TopicDescription d = AdminSuite.eventually(
                () -> admin.describeTopics(List.of("conformance-assigned")).allTopicNames().get().get("conformance-assigned"),
                x -> true, "assigned topic described");
        assertEquals(4, d.partitions().size(), "one partition per assignment");

        TopicPartition tp = new TopicPartition("conformance-assigned", 0);
        Map<TopicPartition, java.util.Optional<Throwable>> elected =
                admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
        assertInstanceOf(ElectionNotNeededException.class, elected.get(tp).orElseThrow());
        assertTrue(admin.listPartitionReassignments().reassignments().get().isEmpty());
    }

    /** kafka-log-dirs and describeLogDirs: one dir per agent, every partition on one of them with its bytes. */
    @Test
    void logDirs() throws Exception {
        Kafka.createTopic(admin, "conformance-sized", 2);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            for (int i = 0; i < 50; i++) {
                producer.send(new ProducerRecord<>("conformance-sized", i % 2, "k" + i, "value " + i)).get();
            }
        }
        List<Integer> ids = admin.describeCluster().nodes().get().stream().map(Node::id).collect(Collectors.toList());
        Map<Integer, Map<String, LogDirDescription>> dirs = admin.describeLogDirs(ids).allDescriptions().get();
        long size = 0;
        int partitions = 0;
        for (Map<String, LogDirDescription> byDir : dirs.values()) {
            assertEquals(1, byDir.size(), byDir.toString());
            for (LogDirDescription dir : byDir.values()) {
                for (Map.Entry<TopicPartition, org.apache.kafka.clients.admin.ReplicaInfo> e : dir.replicaInfos().entrySet()) {
                    if (e.getKey().topic().equals("conformance-sized")) {
                        partitions++;
                        size += e.getValue().size();
                    }
                }
            }
        }
        assertEquals(2, partitions, "each partition on exactly one agent: " + dirs);
        assertTrue(size > 50 * "value 0".length(), "size " + size);

        Tool.Result r = tool(LOG_DIRS_COMMAND, "--describe", "--topic-list", "conformance-sized").check();
        assertTrue(r.stdout().contains("conformance-sized-0") && r.stdout().contains("conformance-sized-1"), r.toString());
    }

    /** An idempotent producer is described on the partition it wrote; a compacted topic refuses keyless records; LogAppendTime stamps records. */
    @Test
    void produceAsTheTopicAsks() throws Exception {
        admin.createTopics(List.of(
                new NewTopic("conformance-compacted", 1, (short) 1).configs(Map.of("cleanup.policy", "compact")),
                new NewTopic("conformance-appended", 1, (short) 1).configs(Map.of("message.timestamp.type", "LogAppendTime")))).all().get();
        long before = System.currentTimeMillis();
        TopicPartition compacted = new TopicPartition("conformance-compacted", 0);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            producer.send(new ProducerRecord<>("conformance-compacted", "k", "kept")).get();
            // Described before the refused record below: the producer then
            // bumps its epoch, and silt keeps one epoch per producer (not
            // per partition, as Kafka does), forgetting this partition's
            // history when the next write comes with the new epoch.
            DescribeProducersResult.PartitionProducerState state =
                    admin.describeProducers(List.of(compacted)).partitionResult(compacted).get();
            assertEquals(1, state.activeProducers().size(), state.toString());
            ExecutionException keyless = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>("conformance-compacted", null, "no key")).get());
            assertInstanceOf(InvalidRecordException.class, keyless.getCause());
            producer.send(new ProducerRecord<>("conformance-appended", null, 1_000L, "k", "old timestamp")).get();
        }

        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Kafka.consumer(silt.bootstrap(), null))) {
            TopicPartition tp = new TopicPartition("conformance-appended", 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (got.isEmpty() && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(got::add);
            }
            assertEquals(1, got.size());
            ConsumerRecord<String, String> r = got.get(0);
            assertEquals(TimestampType.LOG_APPEND_TIME, r.timestampType());
            assertTrue(r.timestamp() >= before && r.timestamp() <= System.currentTimeMillis(), "timestamp " + r.timestamp());
        }
    }
}
