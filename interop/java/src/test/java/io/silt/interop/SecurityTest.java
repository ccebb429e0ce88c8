package io.silt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka's Java client, AdminClient, kafka-configs.sh (ConfigCommand) and
 * kafka-acls.sh (AclCommand) over SASL_SSL with SCRAM-SHA-512 and over
 * mTLS, against one agent with PLAINTEXT, SASL_SSL and SSL listeners and
 * the authorizer on, with two super users: admin (SCRAM) and ops (a client
 * certificate). The certificates are made by openssl in the test; the
 * first user is written by `silt user set` beside the running agent, and
 * it creates the next with kafka-configs.sh and grants it what it needs
 * with kafka-acls.sh, as README's "Security" section shows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class SecurityTest {

    static final String CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand";
    static final String ACL_COMMAND = "org.apache.kafka.tools.AclCommand";
    static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    Silt silt;
    Path pki;
    int saslPort;
    int sslPort;

    @BeforeAll
    void start() throws Exception {
        pki = Files.createTempDirectory("silt-security-pki");
        makeCertificates(pki);
        saslPort = Silt.freePort();
        sslPort = Silt.freePort();
        int plainPort = Silt.freePort();
        silt = Silt.start("SecurityTest", Silt.Backend.FILE, 1,
                "--listen", "PLAINTEXT://127.0.0.1:" + plainPort + ",SASL_SSL://127.0.0.1:" + saslPort + ",SSL://127.0.0.1:" + sslPort,
                "--tls-cert", pki.resolve("server.pem").toString(), "--tls-key", pki.resolve("server.key").toString(),
                "--tls-client-ca", pki.resolve("ca.pem").toString(), "--tls-client-auth", "required",
                "--ssl-principal-mapping-rules", "RULE:^CN=(.*?),.*$/$1/,DEFAULT",
                "--authorizer", "--super-users", "User:admin;User:ops");
        Path pw = pki.resolve("admin.pw");
        Files.writeString(pw, "admin-secret\n");
        Process p = new ProcessBuilder(Silt.BINARY.toString(), "user", "set", "--bucket", silt.bucket(),
                "--user", "admin", "--mechanism", "SCRAM-SHA-512", "--password-file", pw.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "silt user set: " + out);
    }

    @AfterAll
    void stop() throws Exception {
        if (silt != null) {
            silt.close();
        }
    }

    /** Runs openssl; fails the test if it fails. */
    static void openssl(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + ":\n" + out);
        }
    }

    /** A CA, a server certificate for localhost and client ones for alice and ops. */
    static void makeCertificates(Path dir) throws Exception {
        String ec = "ec";
        openssl(dir, "req", "-x509", "-newkey", ec, "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=silt test CA", "-days", "2");
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        Files.writeString(dir.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
        Files.writeString(dir.resolve("ops.ext"), "extendedKeyUsage=clientAuth\n");
        for (String[] c : List.of(new String[] {"server", "/CN=localhost"}, new String[] {"client", "/O=acme/OU=eng/CN=alice"},
                new String[] {"ops", "/O=acme/OU=sre/CN=ops"})) {
            openssl(dir, "req", "-newkey", ec, "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", c[0] + ".key", "-out", c[0] + ".csr", "-subj", c[1]);
            openssl(dir, "x509", "-req", "-in", c[0] + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", c[0] + ".pem", "-days", "2", "-extfile", c[0] + ".ext");
        }
    }

    Properties saslSsl(String user, String password) {
        Properties p = new Properties();
        p.put("bootstrap.servers", "127.0.0.1:" + saslPort);
        p.put("security.protocol", "SASL_SSL");
        p.put("sasl.mechanism", "SCRAM-SHA-512");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + user + "\" password=\"" + password + "\";");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", pki.resolve("ca.pem").toString());
        return p;
    }

    /** A client over mTLS with the certificate cert (client: alice, ops: ops). */
    Properties mtls(String cert) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", "127.0.0.1:" + sslPort);
        p.put("security.protocol", "SSL");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", pki.resolve("ca.pem").toString());
        p.put("ssl.keystore.type", "PEM");
        p.put("ssl.keystore.certificate.chain", Files.readString(pki.resolve(cert + ".pem")));
        p.put("ssl.keystore.key", Files.readString(pki.resolve(cert + ".key")));
        return p;
    }

    /** Writes properties as a tool's --command-config file (a PEM's lines escaped, as Properties.load reads them). */
    Path commandConfig(Properties p, String name) throws Exception {
        Path f = pki.resolve(name + ".properties");
        StringBuilder sb = new StringBuilder();
        for (String k : p.stringPropertyNames()) {
            if (!k.equals("bootstrap.servers")) {
                sb.append(k).append('=').append(p.getProperty(k).replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
            }
        }
        Files.writeString(f, sb.toString());
        return f;
    }

    @Test
    void kafkaConfigsOverSaslSslCreatesAUserWhoProducesAndConsumes() throws Exception {
        Path admin = commandConfig(saslSsl("admin", "admin-secret"), "admin");
        String bootstrap = "127.0.0.1:" + saslPort;
        // The agent picks up `silt user set` as it follows the journal.
        AdminSuite.eventually(() -> Tool.run(TOOL_TIMEOUT, null, CONFIG_COMMAND, "--bootstrap-server", bootstrap,
                        "--command-config", admin.toString(), "--alter", "--add-config", "SCRAM-SHA-512=[password=alice-secret]",
                        "--entity-type", "users", "--entity-name", "alice"),
                r -> r.exit() == 0, "kafka-configs.sh --alter as admin");
        Tool.Result described = AdminSuite.eventually(() -> Tool.run(TOOL_TIMEOUT, null, CONFIG_COMMAND, "--bootstrap-server", bootstrap,
                        "--command-config", admin.toString(), "--describe", "--entity-type", "users", "--entity-name", "alice").check(),
                r -> r.stdout().contains("SCRAM-SHA-512=iterations=4096"), "alice's credential described");
        assertTrue(!described.stdout().contains("alice-secret"), described.toString());

        try (Admin a = Admin.create(saslSsl("admin", "admin-secret"))) {
            Map<String, UserScramCredentialsDescription> users = a.describeUserScramCredentials().all().get(30, TimeUnit.SECONDS);
            assertEquals(ScramMechanism.SCRAM_SHA_512, users.get("alice").credentialInfos().get(0).mechanism(), users.toString());
            a.createTopics(List.of(new NewTopic("secure-topic", 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
            Collection<Node> nodes = a.describeCluster().nodes().get(30, TimeUnit.SECONDS);
            assertEquals(1, nodes.size());
            assertEquals(saslPort, nodes.iterator().next().port(), "DescribeCluster answers the SASL_SSL port");
        }

        Properties prod = saslSsl("alice", "alice-secret");
        prod.put("key.serializer", StringSerializer.class.getName());
        prod.put("value.serializer", StringSerializer.class.getName());
        // alice is authenticated but has no ACL yet: refused, as Kafka refuses her.
        Properties refused = new Properties();
        refused.putAll(prod);
        refused.put("max.block.ms", "10000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(refused)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>("secure-topic", "x")).get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof TopicAuthorizationException, e.toString());
        }
        // kafka-acls.sh over SASL_SSL as admin: the convenience options a producer and a consumer need.
        Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap, "--command-config", admin.toString(),
                "--add", "--allow-principal", "User:alice", "--producer", "--topic", "secure-topic").check();
        Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap, "--command-config", admin.toString(),
                "--add", "--allow-principal", "User:alice", "--consumer", "--topic", "secure-topic", "--group", "secure-group").check();
        Tool.Result listed = Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap,
                "--command-config", admin.toString(), "--list", "--principal", "User:alice").check();
        for (String op : List.of("WRITE", "CREATE", "READ", "DESCRIBE")) {
            assertTrue(listed.stdout().contains("principal=User:alice, host=*, operation=" + op + ", permissionType=ALLOW"),
                    listed.toString());
        }
        // alice herself may not manage ACLs.
        Path aliceConfig = commandConfig(saslSsl("alice", "alice-secret"), "alice");
        Tool.Result notHers = Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap,
                "--command-config", aliceConfig.toString(), "--add", "--allow-principal", "User:alice", "--operation", "All",
                "--topic", "*");
        assertTrue(notHers.exit() != 0 || (notHers.stdout() + notHers.stderr()).contains("ClusterAuthorization"),
                notHers.toString());
        Tool.Result wildcard = Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap,
                "--command-config", admin.toString(), "--list", "--topic", "*").check();
        assertTrue(!wildcard.stdout().contains("User:alice"), "alice's own ACL was stored:\n" + wildcard);

        try (KafkaProducer<String, String> producer = new KafkaProducer<>(prod)) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>("secure-topic", "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
            }
        }
        Properties cons = saslSsl("alice", "alice-secret");
        cons.put("key.deserializer", StringDeserializer.class.getName());
        cons.put("value.deserializer", StringDeserializer.class.getName());
        cons.put("group.id", "secure-group");
        cons.put("auto.offset.reset", "earliest");
        int got = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cons)) {
            consumer.subscribe(List.of("secure-topic"));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got < 10 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    assertEquals("v" + r.key().substring(1), r.value());
                    got++;
                }
            }
        }
        assertEquals(10, got, "records read back over SASL_SSL");

        Properties wrong = saslSsl("alice", "not-her-password");
        wrong.put("key.serializer", StringSerializer.class.getName());
        wrong.put("value.serializer", StringSerializer.class.getName());
        wrong.put("max.block.ms", "10000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(wrong)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>("secure-topic", "x")).get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof SaslAuthenticationException, e.toString());
        }
    }

    @Test
    void toolsAndClientsOverMutualTls() throws Exception {
        String bootstrap = "127.0.0.1:" + sslPort;
        // ops is a super user by its certificate's CN; it grants alice (CN=alice) one topic.
        Path ops = commandConfig(mtls("ops"), "ops");
        Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap, "--command-config", ops.toString(),
                "--add", "--allow-principal", "User:alice", "--operation", "Create", "--operation", "Describe",
                "--topic", "mtls-topic").check();
        Tool.Result listed = Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap,
                "--command-config", ops.toString(), "--list", "--topic", "mtls-topic").check();
        assertTrue(listed.stdout().contains("principal=User:alice, host=*, operation=CREATE, permissionType=ALLOW"),
                listed.toString());
        try (Admin a = Admin.create(mtls("client"))) {
            a.createTopics(List.of(new NewTopic("mtls-topic", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            assertTrue(a.listTopics().names().get(30, TimeUnit.SECONDS).contains("mtls-topic"));
            // DescribeCluster needs DESCRIBE on the cluster, which she lacks, as on Kafka.
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> a.describeCluster().nodes().get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof ClusterAuthorizationException, e.toString());
            // Only that topic: another is refused, and ops' topics are not listed to her.
            e = assertThrows(ExecutionException.class, () -> a.createTopics(
                    List.of(new NewTopic("not-alices", 1, (short) 1))).all().get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof TopicAuthorizationException, e.toString());
        }
        try (Admin a = Admin.create(mtls("ops"))) {
            a.createTopics(List.of(new NewTopic("ops-topic", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            Collection<Node> nodes = a.describeCluster().nodes().get(30, TimeUnit.SECONDS);
            assertEquals(sslPort, nodes.iterator().next().port(), "DescribeCluster answers the SSL port");
        }
        try (Admin a = Admin.create(mtls("client"))) {
            assertTrue(!a.listTopics().names().get(30, TimeUnit.SECONDS).contains("ops-topic"), "alice sees only what she may describe");
        }
        // kafka-configs.sh over mTLS as ops.
        Tool.run(TOOL_TIMEOUT, null, CONFIG_COMMAND, "--bootstrap-server", bootstrap, "--command-config", ops.toString(),
                "--alter", "--entity-type", "topics", "--entity-name", "mtls-topic", "--add-config", "retention.ms=3600000").check();
        Tool.Result configs = Tool.run(TOOL_TIMEOUT, null, CONFIG_COMMAND, "--bootstrap-server", bootstrap,
                "--command-config", ops.toString(), "--describe", "--entity-type", "topics", "--entity-name", "mtls-topic").check();
        assertTrue(configs.stdout().contains("retention.ms=3600000"), configs.toString());

        // alice's producer and consumer over mTLS, once ops grants them.
        Tool.run(TOOL_TIMEOUT, null, ACL_COMMAND, "--bootstrap-server", bootstrap, "--command-config", ops.toString(),
                "--add", "--allow-principal", "User:alice", "--producer", "--consumer", "--topic", "mtls-topic",
                "--group", "mtls-group").check();
        Properties prod = mtls("client");
        prod.put("key.serializer", StringSerializer.class.getName());
        prod.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(prod)) {
            for (int i = 0; i < 5; i++) {
                producer.send(new ProducerRecord<>("mtls-topic", "k" + i, "m" + i)).get(30, TimeUnit.SECONDS);
            }
        }
        Properties cons = mtls("client");
        cons.put("key.deserializer", StringDeserializer.class.getName());
        cons.put("value.deserializer", StringDeserializer.class.getName());
        cons.put("group.id", "mtls-group");
        cons.put("auto.offset.reset", "earliest");
        int got = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cons)) {
            consumer.subscribe(List.of("mtls-topic"));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got < 5 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    assertEquals("m" + r.key().substring(1), r.value());
                    got++;
                }
            }
        }
        assertEquals(5, got, "records read back over mTLS");
        // Without a client certificate the handshake is refused.
        Properties noCert = mtls("client");
        noCert.remove("ssl.keystore.type");
        noCert.remove("ssl.keystore.certificate.chain");
        noCert.remove("ssl.keystore.key");
        noCert.put("default.api.timeout.ms", "10000");
        noCert.put("request.timeout.ms", "5000");
        try (Admin a = Admin.create(noCert)) {
            assertThrows(ExecutionException.class, () -> a.listTopics().names().get(30, TimeUnit.SECONDS));
        }
    }
}
