package io.silt.interop;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * A real Apache Kafka 4.4.0 broker for the tests that move data between
 * Kafka and silt: one node in KRaft combined mode (broker and controller),
 * started from the Maven jars as interop/bench-kafka does (class path
 * "broker", its pom), with one replica for every internal topic.
 */
final class KafkaBroker implements AutoCloseable {
    final int port;
    private final Jvm jvm;

    private KafkaBroker(int port, Jvm jvm) {
        this.port = port;
        this.jvm = jvm;
    }

    String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** Formats a log directory under dir and starts the broker; waits until it answers. */
    static KafkaBroker start(Path dir) throws Exception {
        int port = Silt.freePort();
        int cport = Silt.freePort();
        Path data = dir.resolve("data");
        Files.createDirectories(data);
        Path props = dir.resolve("server.properties");
        Files.writeString(props, String.join("\n",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.bootstrap.servers=127.0.0.1:" + cport,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + cport,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs=" + data,
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                ""), StandardCharsets.UTF_8);
        // A Kafka Uuid in its string form; never one starting with "-", which reads as a flag.
        String clusterId = "-";
        while (clusterId.startsWith("-")) {
            UUID u = UUID.randomUUID();
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                    .putLong(u.getLeastSignificantBits());
            clusterId = Base64.getUrlEncoder().withoutPadding().encodeToString(b.array());
        }
        Jvm format = new Jvm("kafka-format", "broker", "256m", "kafka.tools.StorageTool",
                List.of("format", "-t", clusterId, "-c", props.toString(), "--standalone"));
        format.start();
        int code = format.await(Duration.ofSeconds(120));
        if (code != 0) {
            throw new IllegalStateException("kafka StorageTool format exited " + code + ":\n" + format.tail(30));
        }
        Jvm broker = new Jvm("kafka-broker", "broker", "512m", "kafka.Kafka", List.of(props.toString()));
        broker.start();
        KafkaBroker k = new KafkaBroker(port, broker);
        try (org.apache.kafka.clients.admin.Admin admin = Kafka.admin(k.bootstrap())) {
            Kafka.await(Duration.ofSeconds(120), () -> {
                if (!broker.alive()) {
                    throw new AssertionError("kafka broker exited:\n" + broker.tail(40));
                }
                try {
                    return !admin.describeCluster().nodes().get(5, java.util.concurrent.TimeUnit.SECONDS).isEmpty();
                } catch (Exception e) {
                    return false;
                }
            }, () -> "kafka broker not up:\n" + broker.tail(40));
        } catch (Exception e) {
            broker.stop(Duration.ofSeconds(10));
            throw e;
        }
        return k;
    }

    @Override
    public void close() throws Exception {
        jvm.stopGracefully(Duration.ofSeconds(60));
    }
}
