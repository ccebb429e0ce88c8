package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Kafka's AdminClient against a silt cluster, once per backend. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
abstract class AdminSuite {

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

    @Test
    void createListDescribeGrowDeleteTopics() throws Exception {
        admin.createTopics(List.of(
                new NewTopic("admin-a", 3, (short) 1).configs(Map.of("retention.ms", "3600000")),
                new NewTopic("admin-b", Optional.empty(), Optional.empty()))).all().get();

        ExecutionException dup = assertThrows(ExecutionException.class,
                () -> admin.createTopics(List.of(new NewTopic("admin-a", 1, (short) 1))).all().get());
        assertInstanceOf(TopicExistsException.class, dup.getCause());

        Set<String> names = eventually(() -> admin.listTopics().names().get(),
                n -> n.containsAll(Set.of("admin-a", "admin-b")), "new topics listed");

        Map<String, TopicDescription> d = eventually(
                () -> admin.describeTopics(List.of("admin-a", "admin-b")).allTopicNames().get(), x -> true, "topics described");
        assertEquals(3, d.get("admin-a").partitions().size());
        assertEquals(1, d.get("admin-b").partitions().size(), "default partitions");
        assertFalse(d.get("admin-a").isInternal());
        assertNotNull(d.get("admin-a").topicId());
        Set<Integer> nodeIds = admin.describeCluster().nodes().get().stream().map(Node::id).collect(Collectors.toSet());
        for (TopicPartitionInfo p : d.get("admin-a").partitions()) {
            assertNotNull(p.leader(), "leader of partition " + p.partition());
            assertTrue(nodeIds.contains(p.leader().id()), "leader is a live node");
            assertFalse(p.replicas().isEmpty());
            assertFalse(p.isr().isEmpty());
        }

        admin.createPartitions(Map.of("admin-a", NewPartitions.increaseTo(5))).all().get();
        eventually(() -> admin.describeTopics(List.of("admin-a")).allTopicNames().get().get("admin-a").partitions().size(),
                n -> n == 5, "admin-a described with 5 partitions");
        // The new partitions take records.
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            assertEquals(4, producer.send(new ProducerRecord<>("admin-a", 4, "k", "v")).get().partition());
        }

        admin.deleteTopics(List.of("admin-a", "admin-b")).all().get();
        Kafka.await(Duration.ofSeconds(30), () -> {
            try {
                Set<String> left = admin.listTopics().names().get();
                return !left.contains("admin-a") && !left.contains("admin-b");
            } catch (Exception e) {
                return false;
            }
        }, () -> "topics still listed: " + admin.listTopics().names().get());
        ExecutionException gone = assertThrows(ExecutionException.class,
                () -> admin.describeTopics(List.of("admin-a")).allTopicNames().get());
        assertInstanceOf(UnknownTopicOrPartitionException.class, gone.getCause());
    }

    /** Topics named by id (Metadata v12, DeleteTopics v6), as Kafka 4.x tools name them. */
    @Test
    void describeAndDeleteTopicsById() throws Exception {
        admin.createTopics(List.of(new NewTopic("admin-by-id", 2, (short) 1))).all().get();
        Uuid id = eventually(() -> admin.describeTopics(List.of("admin-by-id")).allTopicNames().get().get("admin-by-id").topicId(),
                x -> true, "admin-by-id described");
        assertNotEquals(Uuid.ZERO_UUID, id);

        TopicDescription d = admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds().get().get(id);
        assertEquals("admin-by-id", d.name());
        assertEquals(id, d.topicId());
        assertEquals(2, d.partitions().size());
        ExecutionException unknown = assertThrows(ExecutionException.class,
                () -> admin.describeTopics(TopicCollection.ofTopicIds(List.of(Uuid.randomUuid()))).allTopicIds().get());
        assertInstanceOf(UnknownTopicIdException.class, unknown.getCause());

        admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all().get();
        Kafka.await(Duration.ofSeconds(30), () -> {
            try {
                return !admin.listTopics().names().get().contains("admin-by-id");
            } catch (Exception e) {
                return false;
            }
        }, () -> "admin-by-id still listed");
    }

    /**
     * Polls get until ok holds. As in Kafka (KRaft), an admin change is
     * acknowledged once it is committed, and the agent another request goes
     * to may apply it a moment later; Kafka's own tests wait the same way.
     */
    static <T> T eventually(java.util.concurrent.Callable<T> get, java.util.function.Predicate<T> ok, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            T v;
            try {
                v = get.call();
            } catch (ExecutionException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
                continue;
            }
            if (ok.test(v)) {
                return v;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not " + what + " within 15s: " + v);
            }
            Thread.sleep(50);
        }
    }

    @Test
    void describeCluster() throws Exception {
        DescribeClusterResult c = admin.describeCluster();
        Collection<Node> nodes = c.nodes().get();
        assertEquals(silt.agents().size(), nodes.size(), nodes.toString());
        Set<String> addresses = nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.toSet());
        assertEquals(silt.agents().stream().map(Silt.Agent::kafkaAddress).collect(Collectors.toSet()), addresses);
        assertNotNull(c.controller().get());
        String id = c.clusterId().get();
        assertNotNull(id);
        assertFalse(id.isEmpty());
    }

    @Test
    void describeAndIncrementallyAlterConfigs() throws Exception {
        String topic = "admin-configs";
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)
                .configs(Map.of("cleanup.policy", "compact")))).all().get();
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);

        Config before = eventually(() -> admin.describeConfigs(List.of(res)).all().get().get(res), x -> true, "configs described");
        assertEquals("compact", before.get("cleanup.policy").value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, before.get("cleanup.policy").source());
        assertNotNull(before.get("retention.ms"), "retention.ms is described");
        String defaultRetention = before.get("retention.ms").value();
        assertNotNull(before.get("max.message.bytes"));

        admin.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "1234567"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact,delete"), AlterConfigOp.OpType.SET)))).all().get();
        Config set = eventually(() -> admin.describeConfigs(List.of(res)).all().get().get(res),
                c -> "1234567".equals(c.get("retention.ms").value()), "retention.ms set");
        assertEquals("1234567", set.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, set.get("retention.ms").source());
        assertEquals("compact,delete", set.get("cleanup.policy").value());

        admin.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE)))).all().get();
        Config deleted = eventually(() -> admin.describeConfigs(List.of(res)).all().get().get(res),
                c -> defaultRetention.equals(c.get("retention.ms").value()), "retention.ms back to its default");
        assertEquals(defaultRetention, deleted.get("retention.ms").value());
        assertFalse(deleted.get("retention.ms").source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                "retention.ms back to its default");

        // validateOnly changes nothing.
        admin.incrementalAlterConfigs(Map.of(res, List.of(
                        new AlterConfigOp(new ConfigEntry("retention.ms", "999"), AlterConfigOp.OpType.SET))),
                new org.apache.kafka.clients.admin.AlterConfigsOptions().validateOnly(true)).all().get();
        assertEquals(defaultRetention, admin.describeConfigs(List.of(res)).all().get().get(res).get("retention.ms").value());

        // A broker's configs are described too.
        String nodeId = Integer.toString(admin.describeCluster().nodes().get().iterator().next().id());
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, nodeId);
        Config bc = admin.describeConfigs(List.of(broker)).all().get().get(broker);
        assertNotNull(bc);
    }

    @Test
    void deleteRecordsAndListOffsets() throws Exception {
        String topic = "admin-offsets";
        Kafka.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 600_000;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            for (int i = 0; i < 10; i++) {
                // The newest timestamp sits in the middle, at offset 6.
                long ts = i == 6 ? base + 100_000 : base + i * 1000L;
                producer.send(new ProducerRecord<>(topic, 0, ts, "k" + i, "v" + i));
            }
            producer.flush();
        }
        assertEquals(0, offset(tp, OffsetSpec.earliest()).offset());
        assertEquals(10, offset(tp, OffsetSpec.latest()).offset());
        assertEquals(3, offset(tp, OffsetSpec.forTimestamp(base + 2500)).offset());
        ListOffsetsResult.ListOffsetsResultInfo max = offset(tp, OffsetSpec.maxTimestamp());
        assertEquals(6, max.offset());
        assertEquals(base + 100_000, max.timestamp());

        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get().lowWatermark();
        assertEquals(4, low);
        assertEquals(4, offset(tp, OffsetSpec.earliest()).offset());
        assertEquals(10, offset(tp, OffsetSpec.latest()).offset());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Kafka.consumer(silt.bootstrap(), null))) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            ConsumerRecord<String, String> first = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (first == null && System.nanoTime() < deadline) {
                var rs = consumer.poll(Duration.ofMillis(200));
                if (!rs.isEmpty()) {
                    first = rs.iterator().next();
                }
            }
            assertNotNull(first);
            assertEquals(4, first.offset());
            assertEquals("v4", first.value());
        }
        // Deleting everything: the low watermark reaches the log end.
        assertEquals(10, admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp).get().lowWatermark());
    }

    private ListOffsetsResult.ListOffsetsResultInfo offset(TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get();
    }

    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void listDescribeAlterDeleteGroups(String protocol) throws Exception {
        String topic = "admin-groups-" + protocol;
        String group = "admin-group-" + protocol;
        Kafka.createTopic(admin, topic, 2);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Kafka.producer(silt.bootstrap()))) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, i % 2, "k" + i, "v" + i));
            }
            producer.flush();
        }
        Properties p = Kafka.consumer(silt.bootstrap(), group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            int n = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (n < 10 && System.nanoTime() < deadline) {
                n += consumer.poll(Duration.ofMillis(200)).count();
            }
            assertEquals(10, n);
            consumer.commitSync();

            GroupListing listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get().stream()
                    .filter(g -> g.groupId().equals(group)).findFirst().orElseThrow(() -> new AssertionError(group + " not listed"));
            assertEquals(Optional.of(protocol.equals("classic") ? GroupType.CLASSIC : GroupType.CONSUMER), listed.type());
            assertEquals(Optional.of(GroupState.STABLE), listed.groupState());
            assertTrue(admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group)));

            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(1, d.members().size());
            assertEquals(Set.copyOf(Kafka.partitions(topic, 2)), d.members().iterator().next().assignment().topicPartitions());
            assertNotNull(d.coordinator());

            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            assertEquals(5, offsets.get(new TopicPartition(topic, 0)).offset());
            assertEquals(5, offsets.get(new TopicPartition(topic, 1)).offset());
        }
        // Offsets of a group without members can be altered.
        Kafka.await(Duration.ofSeconds(30), () -> {
            try {
                return admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState() == GroupState.EMPTY;
            } catch (Exception e) {
                return false;
            }
        }, () -> "group state " + admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState());
        // Empty, the group keeps its type.
        GroupType type = protocol.equals("classic") ? GroupType.CLASSIC : GroupType.CONSUMER;
        assertEquals(type, admin.describeConsumerGroups(List.of(group)).all().get().get(group).type());
        GroupListing empty = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get().stream()
                .filter(g -> g.groupId().equals(group)).findFirst().orElseThrow(() -> new AssertionError(group + " not listed"));
        assertEquals(Optional.of(GroupState.EMPTY), empty.groupState());
        assertEquals(Optional.of(type), empty.type(), "type of the empty group");
        Map<TopicPartition, OffsetAndMetadata> altered = new HashMap<>();
        altered.put(new TopicPartition(topic, 0), new OffsetAndMetadata(1));
        altered.put(new TopicPartition(topic, 1), new OffsetAndMetadata(3, "moved"));
        admin.alterConsumerGroupOffsets(group, altered).all().get();
        Map<TopicPartition, OffsetAndMetadata> now = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        assertEquals(1, now.get(new TopicPartition(topic, 0)).offset());
        assertEquals(3, now.get(new TopicPartition(topic, 1)).offset());
        assertEquals("moved", now.get(new TopicPartition(topic, 1)).metadata());

        admin.deleteConsumerGroups(List.of(group)).all().get();
        assertFalse(admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group)), "deleted group listed");
        try {
            ConsumerGroupDescription gone = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            assertEquals(GroupState.DEAD, gone.groupState());
        } catch (ExecutionException e) {
            assertInstanceOf(GroupIdNotFoundException.class, e.getCause());
        }
        assertTrue(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().isEmpty());
    }
}
