package io.silt.interop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Lines for the end of the run (figures, counts), kept in target/interop-summary.txt. */
final class Summary {
    private Summary() {
    }

    static final Path FILE = Silt.WORK.getParent().resolve("interop-summary.txt");

    static synchronized void line(String s) {
        System.out.println(s);
        try {
            Files.createDirectories(FILE.getParent());
            Files.writeString(FILE, s + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.err.println("summary: " + e);
        }
    }
}
