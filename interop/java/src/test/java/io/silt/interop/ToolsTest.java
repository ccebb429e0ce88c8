package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka's command-line tools (artifact kafka-tools), run by main class as
 * the kafka-*.sh scripts run them, against a silt cluster on a file bucket.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class ToolsTest {

    static final String TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand";
    static final String GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
    static final String CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer";
    static final String CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer";
    static final String GET_OFFSET_SHELL = "org.apache.kafka.tools.GetOffsetShell";
    static final String CLUSTER_TOOL = "org.apache.kafka.tools.ClusterTool";
    static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    Silt silt;

    @BeforeAll
    void startCluster() throws Exception {
        silt = Silt.start("ToolsTest", Silt.Backend.FILE);
    }

    @AfterAll
    void stopCluster() throws Exception {
        if (silt != null) {
            silt.close();
        }
    }

    private Tool.Result tool(String stdin, String main, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap()));
        all.addAll(Arrays.asList(args));
        return Tool.run(TOOL_TIMEOUT, stdin, main, all.toArray(String[]::new));
    }

    @Test
    void clusterToolClusterId() throws Exception {
        Tool.Result r = Tool.run(TOOL_TIMEOUT, null, CLUSTER_TOOL, "cluster-id", "--bootstrap-server", silt.bootstrap()).check();
        assertTrue(Pattern.compile("^Cluster ID: \\S+$").matcher(r.stdout().strip()).matches(), r.toString());
    }

    @Test
    void topicCommandCreateDescribeList() throws Exception {
        Tool.Result created = tool(null, TOPIC_COMMAND, "--create", "--topic", "tools-topic",
                "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=7200000").check();
        assertTrue(created.stdout().contains("Created topic tools-topic."), created.toString());

        Tool.Result exists = tool(null, TOPIC_COMMAND, "--create", "--topic", "tools-topic", "--partitions", "1");
        assertTrue(exists.exit() != 0 && (exists.stdout() + exists.stderr()).contains("already exists"), exists.toString());
        tool(null, TOPIC_COMMAND, "--create", "--if-not-exists", "--topic", "tools-topic", "--partitions", "1").check();

        Tool.Result described = tool(null, TOPIC_COMMAND, "--describe", "--topic", "tools-topic").check();
        String out = described.stdout();
        assertTrue(out.contains("Topic: tools-topic") && out.contains("PartitionCount: 3"), described.toString());
        assertTrue(out.contains("ReplicationFactor: 1"), described.toString());
        assertTrue(out.contains("retention.ms=7200000"), described.toString());
        for (int p = 0; p < 3; p++) {
            assertTrue(Pattern.compile("Partition: " + p + "\\s+Leader: \\d+").matcher(out).find(), "partition " + p + " has a leader:\n" + out);
        }

        tool(null, TOPIC_COMMAND, "--create", "--topic", "tools-other", "--partitions", "1").check();
        Tool.Result listed = tool(null, TOPIC_COMMAND, "--list").check();
        List<String> names = Arrays.asList(listed.stdout().strip().split("\\R"));
        assertTrue(names.contains("tools-topic") && names.contains("tools-other"), listed.toString());

        tool(null, TOPIC_COMMAND, "--alter", "--topic", "tools-other", "--partitions", "2").check();
        assertTrue(tool(null, TOPIC_COMMAND, "--describe", "--topic", "tools-other").check().stdout().contains("PartitionCount: 2"));
        tool(null, TOPIC_COMMAND, "--delete", "--topic", "tools-other").check();
        Kafka.await(Duration.ofSeconds(30), () -> {
            try {
                return !Arrays.asList(tool(null, TOPIC_COMMAND, "--list").check().stdout().strip().split("\\R")).contains("tools-other");
            } catch (Exception e) {
                return false;
            }
        }, () -> "tools-other still listed");
    }

    /**
     * ConsoleProducer to ConsoleConsumer with keys; then ConsumerGroupCommand
     * describes the consumer's group, resets it to the earliest offsets, and
     * a second ConsoleConsumer in the group reads everything again.
     */
    @Test
    void consoleRoundTripAndConsumerGroupCommand() throws Exception {
        String topic = "tools-console";
        String group = "tools-group";
        tool(null, TOPIC_COMMAND, "--create", "--topic", topic, "--partitions", "2").check();
        StringBuilder input = new StringBuilder();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            input.append("key").append(i).append(':').append("value ").append(i).append('\n');
            expected.add("key" + i + "\tvalue " + i);
        }
        tool(input.toString(), CONSOLE_PRODUCER, "--topic", topic,
                "--reader-property", "parse.key=true", "--reader-property", "key.separator=:").check();

        List<String> firstRead = consume(topic, group, 20);
        assertEquals(sorted(expected), sorted(firstRead));

        // GetOffsetShell: the log end and start of each partition.
        Tool.Result latest = tool(null, GET_OFFSET_SHELL, "--topic", topic, "--time", "-1").check();
        long sum = 0;
        for (String line : latest.stdout().strip().split("\\R")) {
            String[] f = line.split(":");
            assertEquals(topic, f[0], latest.toString());
            sum += Long.parseLong(f[2]);
        }
        assertEquals(20, sum, latest.toString());
        Tool.Result earliest = tool(null, GET_OFFSET_SHELL, "--topic", topic, "--time", "-2").check();
        assertEquals(List.of(topic + ":0:0", topic + ":1:0"), sorted(Arrays.asList(earliest.stdout().strip().split("\\R"))));

        Tool.Result listed = tool(null, GROUP_COMMAND, "--list").check();
        assertTrue(Arrays.asList(listed.stdout().strip().split("\\R")).contains(group), listed.toString());

        // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
        Tool.Result described = tool(null, GROUP_COMMAND, "--describe", "--group", group).check();
        List<long[]> rows = describeRows(described.stdout(), group, topic);
        assertEquals(2, rows.size(), described.toString());
        long total = 0;
        for (long[] r : rows) {
            assertEquals(r[1], r[0], "current offset at the log end:\n" + described.stdout());
            assertEquals(0, r[2], "no lag:\n" + described.stdout());
            total += r[1];
        }
        assertEquals(20, total);

        Tool.Result dryRun = tool(null, GROUP_COMMAND, "--reset-offsets", "--to-earliest", "--dry-run",
                "--group", group, "--topic", topic).check();
        assertTrue(dryRun.stdout().contains("NEW-OFFSET"), dryRun.toString());
        Tool.Result reset = tool(null, GROUP_COMMAND, "--reset-offsets", "--to-earliest", "--execute",
                "--group", group, "--topic", topic).check();
        Matcher m = Pattern.compile("(?m)^" + group + "\\s+" + topic + "\\s+(\\d+)\\s+(\\d+)\\s*$").matcher(reset.stdout());
        int resetRows = 0;
        while (m.find()) {
            assertEquals("0", m.group(2), reset.stdout());
            resetRows++;
        }
        assertEquals(2, resetRows, reset.toString());

        Tool.Result after = tool(null, GROUP_COMMAND, "--describe", "--group", group).check();
        for (long[] r : describeRows(after.stdout(), group, topic)) {
            assertEquals(0, r[0], "current offset reset:\n" + after.stdout());
            assertEquals(r[1], r[2], "lag is everything:\n" + after.stdout());
        }

        Tool.Result state = tool(null, GROUP_COMMAND, "--describe", "--state", "--group", group).check();
        assertTrue(Pattern.compile("(?m)^" + group + "\\s.*\\sEmpty\\s+0\\s*$").matcher(state.stdout()).find(), state.toString());

        List<String> secondRead = consume(topic, group, 20);
        assertEquals(sorted(expected), sorted(secondRead));

        Tool.Result deleted = tool(null, GROUP_COMMAND, "--delete", "--group", group).check();
        assertTrue(deleted.stdout().contains("successful"), deleted.toString());
    }

    private List<String> consume(String topic, String group, int n) throws Exception {
        Tool.Result r = tool(null, CONSOLE_CONSUMER, "--topic", topic, "--group", group, "--from-beginning",
                "--max-messages", Integer.toString(n), "--timeout-ms", "30000",
                "--formatter-property", "print.key=true").check();
        List<String> lines = new ArrayList<>(Arrays.asList(r.stdout().strip().split("\\R")));
        assertEquals(n, lines.size(), r.toString());
        assertTrue(r.stderr().contains("Processed a total of " + n + " messages"), r.toString());
        return lines;
    }

    /** {current, log end, lag} for each partition row of a --describe output. */
    private static List<long[]> describeRows(String out, String group, String topic) {
        Matcher m = Pattern.compile("(?m)^" + group + "\\s+" + topic + "\\s+(\\d+)\\s+(\\d+|-)\\s+(\\d+)\\s+(\\d+|-)").matcher(out);
        List<long[]> rows = new ArrayList<>();
        while (m.find()) {
            long cur = m.group(2).equals("-") ? -1 : Long.parseLong(m.group(2));
            long end = Long.parseLong(m.group(3));
            long lag = m.group(4).equals("-") ? -1 : Long.parseLong(m.group(4));
            rows.add(new long[] {cur, end, lag});
        }
        return rows;
    }

    private static List<String> sorted(List<String> l) {
        List<String> s = new ArrayList<>(l);
        s.sort(null);
        return s;
    }
}
