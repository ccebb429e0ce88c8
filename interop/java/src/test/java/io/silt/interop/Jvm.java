package io.silt.interop;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A long-running Java service (a Connect worker, MirrorMaker 2, a Kafka
 * broker) in its own JVM, on a class path of its own that
 * interop/run-java.sh resolved with Maven into target/classpath-NAME.txt
 * (interop/java/classpaths/NAME/pom.xml; "broker" is
 * interop/bench-kafka/pom.xml). Its log (log4j2, INFO) and its stdout and
 * stderr go to files under the work directory. It can be stopped (SIGTERM)
 * and crashed (SIGKILL), and started again with the same command.
 */
final class Jvm {
    private final String name;
    private final List<String> command;
    private final Path log;
    private final Path out;
    private Process proc;

    /** A service named name; nothing runs until {@link #start}. */
    Jvm(String name, String classpathName, String heap, String mainClass, List<String> args) {
        this(name, heap, mainClass, args, classpath(classpathName));
    }

    /**
     * A program of the tests' own (a main class in interop/java's test
     * sources, such as a Kafka Streams application) in a JVM of its own,
     * so that it can be killed -9 as a crash kills it.
     */
    static Jvm onTestClasspath(String name, String heap, String mainClass, List<String> args) {
        return new Jvm(name, heap, mainClass, args, Tool.classpath());
    }

    private Jvm(String name, String heap, String mainClass, List<String> args, String classpath) {
        this.name = name;
        Path dir = Silt.WORK.resolve("services");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.log = dir.resolve(name + ".log");
        this.out = dir.resolve(name + ".out");
        Path resources = Path.of(System.getProperty("interop.test.classes", "target/test-classes"));
        command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dlog4j2.configurationFile=" + resources.resolve("log4j2-service.xml"),
                "-Dservice.log=" + log,
                "-cp", classpath, mainClass));
        command.addAll(args);
    }

    /** The class path resolved for name, or a loud failure saying how to get it. */
    static String classpath(String name) {
        Path file = Silt.WORK.getParent().resolve("classpath-" + name + ".txt");
        try {
            return Files.readString(file).trim();
        } catch (IOException e) {
            throw new IllegalStateException("no class path " + file + ": run the tests through interop/run-java.sh,"
                    + " which resolves it from interop/java/classpaths/" + name + "/pom.xml", e);
        }
    }

    String name() {
        return name;
    }

    Path log() {
        return log;
    }

    synchronized Jvm start() throws IOException {
        if (alive()) {
            throw new IllegalStateException(name + " is already running");
        }
        Files.writeString(out, "=== start: " + String.join(" ", command) + "\n", StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        proc = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        return this;
    }

    /** Waits for it to end by itself (a tool run to completion); its exit code, or SIGKILL and -1 after timeout. */
    int await(Duration timeout) throws InterruptedException {
        if (!proc.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            proc.destroyForcibly();
            proc.waitFor(20, TimeUnit.SECONDS);
            return -1;
        }
        return proc.exitValue();
    }

    synchronized boolean alive() {
        return proc != null && proc.isAlive();
    }

    long pid() {
        return proc.pid();
    }

    /** SIGKILL: a crash. */
    synchronized void kill9() throws InterruptedException {
        if (alive()) {
            proc.destroyForcibly();
            proc.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM (the JVM's shutdown hooks run), then SIGKILL after timeout; the exit code. */
    synchronized int stop(Duration timeout) throws InterruptedException {
        if (proc == null) {
            return 0;
        }
        if (proc.isAlive()) {
            proc.destroy();
            if (!proc.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                threadDump();
                proc.destroyForcibly();
                proc.waitFor(20, TimeUnit.SECONDS);
                return -1;
            }
        }
        return proc.exitValue();
    }

    /**
     * SIGQUIT: the JVM prints every thread's stack to its stdout (the .out
     * file), so a service that does not stop says where it is stuck.
     */
    private void threadDump() throws InterruptedException {
        try {
            new ProcessBuilder("kill", "-QUIT", Long.toString(proc.pid())).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
            Thread.sleep(1000);
        } catch (IOException e) {
            // Diagnostics only: the caller reports the failure itself.
        }
    }

    /** Its log since the last line containing marker (all of it without one). */
    String logSince(String marker) {
        try {
            String all = Files.readString(log, StandardCharsets.UTF_8);
            int at = all.lastIndexOf(marker);
            return at < 0 ? all : all.substring(at);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Stops it with SIGTERM and fails unless it ended gracefully: exit 0, or
     * 143, the code a JVM ends with on SIGTERM after its shutdown hooks ran.
     */
    void stopGracefully(Duration timeout) throws InterruptedException {
        int code = stop(timeout);
        if (code != 0 && code != 143) {
            throw new AssertionError(name + " exited " + code + " on SIGTERM:\n" + tail(30));
        }
    }

    /** The end of its log and of its stdout/stderr, for a failure message. */
    String tail(int lines) {
        StringBuilder sb = new StringBuilder();
        for (Path p : List.of(log, out)) {
            try {
                List<String> all = Files.readAllLines(p, StandardCharsets.UTF_8);
                sb.append("--- ").append(p).append('\n')
                        .append(String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())))
                        .append('\n');
            } catch (IOException e) {
                sb.append("--- ").append(p).append(": ").append(e).append('\n');
            }
        }
        return sb.toString();
    }
}
