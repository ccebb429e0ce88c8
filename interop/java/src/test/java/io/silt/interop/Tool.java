package io.silt.interop;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Kafka's command-line tools, run by main class as `java -cp` subprocesses
 * on the test class path: the tools call Exit.exit, which would end the test
 * JVM if they ran in it. stderr goes to a file under the work directory.
 */
final class Tool {
    private Tool() {
    }

    private static final AtomicInteger SEQ = new AtomicInteger();

    /** The finished run of one tool. */
    record Result(int exit, String stdout, String stderr, List<String> command) {
        Result check() {
            if (exit != 0) {
                throw new AssertionError("tool exited " + exit + ": " + String.join(" ", command)
                        + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr);
            }
            return this;
        }

        @Override
        public String toString() {
            return String.join(" ", command) + " => exit " + exit + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    static String classpath() {
        String file = System.getProperty("interop.classpath.file", "target/test-classpath.txt");
        String classes = System.getProperty("interop.test.classes", "target/test-classes");
        try {
            return classes + java.io.File.pathSeparator + Files.readString(Path.of(file)).trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> javaCommand(String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // Small, quick-starting JVMs: each tool run is short.
                "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", classpath(), mainClass));
        cmd.addAll(args);
        return cmd;
    }

    /** Starts a tool with its stdout piped to the caller and stderr to a file. */
    static Process spawn(String mainClass, List<String> args) throws IOException {
        Path err = Silt.WORK.resolve("tools");
        Files.createDirectories(err);
        String simple = mainClass.substring(mainClass.lastIndexOf('.') + 1);
        ProcessBuilder pb = new ProcessBuilder(javaCommand(mainClass, args))
                .redirectError(err.resolve(SEQ.incrementAndGet() + "-" + simple + ".stderr").toFile());
        return pb.start();
    }

    /** Runs a tool to completion with the given stdin (null: none). */
    static Result run(Duration timeout, String stdin, String mainClass, String... args) throws Exception {
        List<String> cmd = javaCommand(mainClass, List.of(args));
        Path dir = Silt.WORK.resolve("tools");
        Files.createDirectories(dir);
        String simple = mainClass.substring(mainClass.lastIndexOf('.') + 1);
        Path out = dir.resolve(SEQ.incrementAndGet() + "-" + simple + ".stdout");
        Path err = dir.resolve(SEQ.get() + "-" + simple + ".stderr");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("tool timed out after " + timeout + ": " + String.join(" ", args)
                    + "\nstdout:\n" + Files.readString(out) + "\nstderr:\n" + Files.readString(err));
        }
        List<String> shown = new ArrayList<>(List.of(simple));
        shown.addAll(List.of(args));
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err), shown);
    }
}
