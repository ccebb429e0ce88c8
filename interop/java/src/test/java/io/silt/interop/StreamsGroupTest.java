package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupMemberAssignment;
import org.apache.kafka.clients.admin.StreamsGroupMemberDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka Streams word count with group.protocol=streams (KIP-1071): the
 * broker validates the topology, creates its repartition and changelog
 * topics, and assigns its tasks. Three instances share the six tasks (two
 * subtopologies of three partitions), each task with a standby replica on
 * another instance (streams.num.standby.replicas=1, a group config);
 * kafka-streams-groups.sh describes them; one instance, in a JVM of its
 * own (WordCountApp), is killed -9, its tasks move to the other two once
 * its session times out, and the counts stay exact. Then the agent coordinating the group is
 * killed -9: the next one resumes the group from the journal, the two
 * instances keep their member epochs and tasks, and the counts stay exact.
 * Once they have left, kafka-streams-groups.sh lists the group and deletes
 * it with its offsets and internal topics.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(400)
class StreamsGroupTest {

    static final String APP = "silt-wordcount-streams";
    static final String STREAMS_GROUP_COMMAND = "org.apache.kafka.tools.streams.StreamsGroupCommand";
    static final int INSTANCES = 3;

    Silt silt;
    Admin admin;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("StreamsGroupTest", Silt.Backend.FILE);
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

    Properties streamsConfig(int instance) {
        return streamsConfig(silt.bootstrap(), silt.dir().resolve("streams-state-" + instance).toString());
    }

    /** The word count's configuration, in this JVM and in WordCountApp's. */
    static Properties streamsConfig(String bootstrap, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, APP);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put("processing.exception.handler.global.enabled", "true");
        return p;
    }

    @Test
    void wordCountOnThreeInstancesSurvivesOneKilled() throws Exception {
        admin.createTopics(List.of(new NewTopic(StreamsTest.INPUT, StreamsTest.PARTITIONS, (short) 1),
                new NewTopic(StreamsTest.OUTPUT, StreamsTest.PARTITIONS, (short) 1))).all().get();
        // One standby replica of every task, a group config as on Kafka.
        ConfigResource groupResource = new ConfigResource(ConfigResource.Type.GROUP, APP);
        admin.incrementalAlterConfigs(Map.of(groupResource, List.of(new AlterConfigOp(
                new ConfigEntry("streams.num.standby.replicas", "1"), AlterConfigOp.OpType.SET)))).all().get();
        Random rnd = new Random(20);
        Map<String, Long> expected = new HashMap<>(StreamsTest.produceLines(silt.bootstrap(), 0, 1500, rnd));

        List<KafkaStreams> instances = new ArrayList<>();
        Map<String, Long> latest = new HashMap<>();
        // Instance 0 runs in a JVM of its own, to be killed -9; 1 and 2 in this one.
        Jvm crashing = Jvm.onTestClasspath("wordcount-0", "256m", WordCountApp.class.getName(),
                List.of(silt.bootstrap(), silt.dir().resolve("streams-state-0").toString()));
        try (KafkaConsumer<String, Long> out = StreamsTest.outputConsumer(silt.bootstrap())) {
            out.assign(Kafka.partitions(StreamsTest.OUTPUT, StreamsTest.PARTITIONS));
            out.seekToBeginning(Kafka.partitions(StreamsTest.OUTPUT, StreamsTest.PARTITIONS));
            crashing.start();
            for (int i = 1; i < INSTANCES; i++) {
                KafkaStreams s = new KafkaStreams(StreamsTest.wordCount(), streamsConfig(i));
                s.setUncaughtExceptionHandler(e -> {
                    throw new AssertionError("stream thread died", e);
                });
                s.start();
                instances.add(s);
            }
            try {
                for (KafkaStreams s : instances) {
                    Kafka.await(Duration.ofSeconds(90), () -> s.state() == KafkaStreams.State.RUNNING,
                            () -> "streams state " + s.state());
                }
                StreamsTest.awaitCounts(out, latest, expected, "three instances");

                // The broker created the internal topics, partitioned like the input.
                Set<String> topics = admin.listTopics().names().get();
                String repartition = APP + "-by-word-repartition";
                String changelog = APP + "-word-counts-changelog";
                assertTrue(topics.contains(repartition) && topics.contains(changelog), "internal topics: " + topics);

                // Six tasks, two on each instance, each active once.
                StreamsGroupDescription d = awaitStable(INSTANCES);
                assertEquals(Set.of("0", "1"), activeTasks(d).keySet(), d.toString());
                assertEquals(2 * StreamsTest.PARTITIONS, activeTasks(d).values().stream().mapToInt(Set::size).sum(), d.toString());
                for (StreamsGroupMemberDescription m : d.members()) {
                    assertEquals(2, count(m.assignment()), m.toString());
                }
                assertStandbysElsewhere(d, 2);

                Tool.Result members = Tool.run(Duration.ofSeconds(60), null, STREAMS_GROUP_COMMAND,
                        "--bootstrap-server", silt.bootstrap(), "--describe", "--group", APP, "--members", "--verbose").check();
                Tool.Result offsets = Tool.run(Duration.ofSeconds(60), null, STREAMS_GROUP_COMMAND,
                        "--bootstrap-server", silt.bootstrap(), "--describe", "--group", APP, "--offsets").check();
                // One line per member, its active tasks as "ACTIVE: 0:[0,1]; 1:[2];":
                // together, every task once.
                Map<String, Set<Integer>> shown = new HashMap<>();
                int lines = 0;
                for (String line : members.stdout().split("\n")) {
                    if (!line.startsWith(APP + " ")) {
                        continue;
                    }
                    lines++;
                    Matcher active = Pattern.compile("ACTIVE: (.*?)(STANDBY|TARGET-ACTIVE)").matcher(line);
                    assertTrue(active.find(), members.toString());
                    Matcher task = Pattern.compile("(\\d+):\\[([\\d,]+)\\]").matcher(active.group(1));
                    while (task.find()) {
                        for (String p : task.group(2).split(",")) {
                            assertTrue(shown.computeIfAbsent(task.group(1), k -> new TreeSet<>()).add(Integer.parseInt(p)), members.toString());
                        }
                    }
                }
                assertEquals(INSTANCES, lines, members.toString());
                assertTrue(members.stdout().contains("STANDBY: "), members.toString());
                assertEquals(Map.of("0", Set.of(0, 1, 2), "1", Set.of(0, 1, 2)), shown, members.toString());
                // Lag per input partition, the repartition topic's included: all read.
                for (String topic : List.of(StreamsTest.INPUT, repartition)) {
                    for (int p = 0; p < StreamsTest.PARTITIONS; p++) {
                        assertTrue(offsets.stdout().matches("(?s).*" + APP + "\\s+" + topic + "\\s+" + p + "\\s+0\\b.*"), offsets.toString());
                    }
                }

                // Kill one -9: it leaves nothing behind but its session.
                assertTrue(crashing.alive(), "instance 0 exited:\n" + crashing.tail(40));
                long killedAt = System.nanoTime();
                crashing.kill9();

                Map<String, Long> more = StreamsTest.produceLines(silt.bootstrap(), 1500, 1000, rnd);
                more.forEach((w, c) -> expected.merge(w, c, Long::sum));
                StreamsTest.awaitCounts(out, latest, expected, "after one instance was killed");
                long movedMs = (System.nanoTime() - killedAt) / 1_000_000;

                StreamsGroupDescription after = awaitStable(INSTANCES - 1);
                assertEquals(2 * StreamsTest.PARTITIONS, activeTasks(after).values().stream().mapToInt(Set::size).sum(), after.toString());
                for (StreamsGroupMemberDescription m : after.members()) {
                    assertEquals(3, count(m.assignment()), m.toString());
                }
                assertStandbysElsewhere(after, 3);

                // Kill -9 the agent coordinating the group: the next one resumes it
                // from the journal, and the two instances go on with the same
                // member epochs and tasks (no rebalance); counts stay exact.
                Map<String, Integer> epochs = new HashMap<>();
                after.members().forEach(m -> epochs.put(m.memberId(), m.memberEpoch()));
                Map<String, Object> tasksBefore = new HashMap<>();
                after.members().forEach(m -> tasksBefore.put(m.memberId(), m.assignment().activeTasks()));
                int port = after.coordinator().port();
                Silt.Agent coordinator = silt.agents().stream().filter(a -> a.kafkaAddress().endsWith(":" + port)).findFirst()
                        .orElseThrow(() -> new AssertionError("no agent at the coordinator's port " + port));
                coordinator.kill9();
                long coordinatorKilledAt = System.nanoTime();
                more = StreamsTest.produceLines(silt.bootstrap(), 2500, 1000, rnd);
                more.forEach((w, c) -> expected.merge(w, c, Long::sum));
                StreamsTest.awaitCounts(out, latest, expected, "after the coordinator was killed");
                long resumedMs = (System.nanoTime() - coordinatorKilledAt) / 1_000_000;
                StreamsGroupDescription resumed = awaitStable(INSTANCES - 1);
                assertTrue(resumed.coordinator().port() != port, "coordinator still " + resumed.coordinator());
                Map<String, Integer> epochsAfter = new HashMap<>();
                resumed.members().forEach(m -> epochsAfter.put(m.memberId(), m.memberEpoch()));
                Map<String, Object> tasksAfter = new HashMap<>();
                resumed.members().forEach(m -> tasksAfter.put(m.memberId(), m.assignment().activeTasks()));
                assertEquals(epochs, epochsAfter, "member epochs across the coordinator's death: " + resumed);
                assertEquals(tasksBefore, tasksAfter, "tasks across the coordinator's death: " + resumed);
                coordinator.restart();

                Summary.line(String.format("streams groups: word count on 3 instances (6 tasks, 2 active and 2 standby each), one (its own JVM) killed -9: "
                        + "its tasks moved and counts exact %d ms later; the coordinating agent killed -9: same epochs "
                        + "and tasks, counts exact %d ms later; %d words, %d distinct",
                        movedMs, resumedMs, expected.values().stream().mapToLong(Long::longValue).sum(), expected.size()));
            } finally {
                crashing.kill9();
                for (KafkaStreams s : instances) {
                    s.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                            .withTimeout(Duration.ofSeconds(30)));
                }
            }
        }

        // The instances left: the group is empty; kafka-streams-groups.sh
        // lists it, then deletes it with its offsets and internal topics.
        // The restarted agent took the group back just before, so a leave
        // may have reached the agent that had just let it go (a close does
        // not retry it, as on Kafka): such a member expires after its
        // 45 s session.
        Kafka.await(Duration.ofSeconds(90), () -> {
            try {
                return admin.describeStreamsGroups(List.of(APP)).all().get().get(APP).groupState() == GroupState.EMPTY;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, () -> "streams group not empty");
        Tool.Result listed = Tool.run(Duration.ofSeconds(60), null, STREAMS_GROUP_COMMAND,
                "--bootstrap-server", silt.bootstrap(), "--list").check();
        assertTrue(listed.stdout().lines().anyMatch(l -> l.trim().equals(APP)), listed.toString());
        Tool.Result deleted = Tool.run(Duration.ofSeconds(60), null, STREAMS_GROUP_COMMAND,
                "--bootstrap-server", silt.bootstrap(), "--delete", "--group", APP, "--delete-all-internal-topics").check();
        assertTrue(!admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(APP)), "group listed after --delete");
        assertTrue(admin.listConsumerGroupOffsets(APP).partitionsToOffsetAndMetadata().get().isEmpty(), "offsets left after --delete");
        Set<String> topics = admin.listTopics().names().get();
        assertTrue(!topics.contains(APP + "-by-word-repartition") && !topics.contains(APP + "-word-counts-changelog"),
                "internal topics after --delete: " + topics);
    }

    /** Waits until the group is stable with n members, and describes it. */
    private StreamsGroupDescription awaitStable(int n) throws Exception {
        StreamsGroupDescription[] last = new StreamsGroupDescription[1];
        Kafka.await(Duration.ofSeconds(90), () -> {
            try {
                last[0] = admin.describeStreamsGroups(List.of(APP)).all().get().get(APP);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
            return last[0].groupState() == GroupState.STABLE && last[0].members().size() == n;
        }, () -> "streams group: " + last[0]);
        return last[0];
    }

    /** Each subtopology's active tasks over the group; fails on a task active twice. */
    private static Map<String, Set<Integer>> activeTasks(StreamsGroupDescription d) {
        Map<String, Set<Integer>> out = new HashMap<>();
        for (StreamsGroupMemberDescription m : d.members()) {
            for (StreamsGroupMemberAssignment.TaskIds t : m.assignment().activeTasks()) {
                for (int p : t.partitions()) {
                    assertTrue(out.computeIfAbsent(t.subtopologyId(), k -> new TreeSet<>()).add(p),
                            "task " + t.subtopologyId() + "_" + p + " active twice: " + d);
                }
            }
        }
        return out;
    }

    /** Every task has one standby, on another process than its active; each member has n. */
    private static void assertStandbysElsewhere(StreamsGroupDescription d, int n) {
        Map<String, String> activeOn = new HashMap<>();
        Map<String, String> standbyOn = new HashMap<>();
        for (StreamsGroupMemberDescription m : d.members()) {
            m.assignment().activeTasks().forEach(t -> t.partitions().forEach(p -> activeOn.put(t.subtopologyId() + "_" + p, m.processId())));
            assertEquals(n, m.assignment().standbyTasks().stream().mapToInt(t -> t.partitions().size()).sum(), "standbys of " + m);
            for (StreamsGroupMemberAssignment.TaskIds t : m.assignment().standbyTasks()) {
                for (int p : t.partitions()) {
                    assertTrue(standbyOn.put(t.subtopologyId() + "_" + p, m.processId()) == null, "two standbys: " + d);
                }
            }
        }
        assertEquals(activeOn.keySet(), standbyOn.keySet(), "standby tasks: " + d);
        activeOn.forEach((task, process) -> assertTrue(!process.equals(standbyOn.get(task)), "task " + task + " active and standby on " + process));
    }

    private static int count(StreamsGroupMemberAssignment a) {
        return a.activeTasks().stream().mapToInt(t -> t.partitions().size()).sum();
    }
}
