package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * kafka-acls.sh (org.apache.kafka.tools.AclCommand, Kafka 4.4.0) against
 * agents started with --authorizer. Over PLAINTEXT every client is
 * User:ANONYMOUS, so the cluster the tool manages names it a super user;
 * a second cluster without super users shows the authorizer refusing the
 * same client.
 */
@Timeout(300)
class AclToolTest {

    static final String ACL_COMMAND = "org.apache.kafka.tools.AclCommand";
    static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    private static Tool.Result acls(Silt silt, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", silt.bootstrap()));
        all.addAll(Arrays.asList(args));
        return Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, all.toArray(String[]::new));
    }

    @Test
    void addListRemoveAcrossAgentsAndRestarts() throws Exception {
        try (Silt silt = Silt.start("AclToolTest", Silt.Backend.FILE, Silt.AGENTS,
                "--authorizer", "--super-users", "User:ANONYMOUS")) {
            acls(silt, "--add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe",
                    "--topic", "orders").check();
            acls(silt, "--add", "--allow-principal", "User:alice", "--operation", "Write",
                    "--resource-pattern-type", "prefixed", "--topic", "team-").check();
            acls(silt, "--add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.9", "--operation", "All",
                    "--topic", "orders").check();
            acls(silt, "--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "billing").check();
            // The convenience option: READ and DESCRIBE on the topic, READ on the group.
            acls(silt, "--add", "--allow-principal", "User:carol", "--consumer", "--topic", "payments", "--group", "pay").check();

            // Every agent answers from the journal; ask each in turn.
            for (Silt.Agent a : silt.agents()) {
                Tool.Result listed = Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND,
                        "--bootstrap-server", a.kafkaAddress(), "--list", "--topic", "orders").check();
                String out = listed.stdout();
                assertTrue(out.contains("name=orders, patternType=LITERAL"), listed.toString());
                assertTrue(out.contains("principal=User:alice, host=*, operation=READ, permissionType=ALLOW"), listed.toString());
                assertTrue(out.contains("principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW"), listed.toString());
                assertTrue(out.contains("principal=User:bob, host=10.0.0.9, operation=ALL, permissionType=DENY"), listed.toString());
            }

            // (Without a resource, --list lists every ACL whatever the pattern type.)
            Tool.Result prefixed = acls(silt, "--list", "--resource-pattern-type", "prefixed", "--topic", "team-").check();
            assertTrue(prefixed.stdout().contains("name=team-, patternType=PREFIXED"), prefixed.toString());
            assertFalse(prefixed.stdout().contains("name=orders"), prefixed.toString());

            // MATCH: what applies to topic team-x: the prefixed ACL.
            Tool.Result match = acls(silt, "--list", "--resource-pattern-type", "match", "--topic", "team-x").check();
            assertTrue(match.stdout().contains("name=team-, patternType=PREFIXED"), match.toString());

            Tool.Result consumer = acls(silt, "--list", "--principal", "User:carol").check();
            assertTrue(consumer.stdout().contains("name=payments") && consumer.stdout().contains("name=pay,"), consumer.toString());

            // Survives stopping every agent and starting them again.
            for (Silt.Agent a : silt.agents()) {
                assertEquals(0, a.stop(Duration.ofSeconds(30)), a.nodeName() + " exit on SIGTERM:\n" + a.logTail(30));
            }
            for (Silt.Agent a : silt.agents()) {
                a.restart();
            }
            Tool.Result after = acls(silt, "--list").check();
            for (String want : List.of("name=orders", "name=team-", "name=billing", "name=payments", "name=pay,")) {
                assertTrue(after.stdout().contains(want), "after restart, " + want + " missing:\n" + after);
            }

            acls(silt, "--remove", "--force", "--deny-principal", "User:bob", "--deny-host", "10.0.0.9",
                    "--operation", "All", "--topic", "orders").check();
            Tool.Result removed = acls(silt, "--list", "--topic", "orders").check();
            assertFalse(removed.stdout().contains("User:bob"), removed.toString());
            assertTrue(removed.stdout().contains("User:alice"), removed.toString());

            // An ACL the tool would not build is refused by the agent with
            // Kafka's error, one creation at a time.
            Properties props = new Properties();
            props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, silt.bootstrap());
            try (Admin admin = Admin.create(props)) {
                AclBinding badCluster = new AclBinding(new ResourcePattern(ResourceType.CLUSTER, "other", PatternType.LITERAL),
                        new AccessControlEntry("User:alice", "*", AclOperation.ALTER, AclPermissionType.ALLOW));
                AclBinding good = new AclBinding(new ResourcePattern(ResourceType.TOPIC, "fine", PatternType.LITERAL),
                        new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
                var created = admin.createAcls(List.of(badCluster, good)).values();
                ExecutionException refused = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> created.get(badCluster).get());
                assertTrue(refused.getCause() instanceof InvalidRequestException, refused.toString());
                created.get(good).get();
            }
        }
    }

    @Test
    void withoutTheAclsTheClientIsRefused() throws Exception {
        try (Silt silt = Silt.start("AclToolDenied", Silt.Backend.FILE, 1, "--authorizer")) {
            Tool.Result listed = acls(silt, "--list");
            String all = listed.stdout() + listed.stderr();
            assertTrue(listed.exit() != 0 || all.contains("ClusterAuthorization"), listed.toString());

            Properties props = new Properties();
            props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, silt.bootstrap());
            try (Admin admin = Admin.create(props)) {
                ExecutionException created = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> admin.createTopics(List.of(new NewTopic("nope", 1, (short) 1))).all().get());
                assertTrue(created.getCause() instanceof TopicAuthorizationException, created.toString());
                assertEquals(Set.of(), admin.listTopics().names().get());
                ExecutionException described = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> admin.describeCluster().clusterId().get());
                assertTrue(described.getCause() instanceof ClusterAuthorizationException, described.toString());
            }
        }
    }
}
