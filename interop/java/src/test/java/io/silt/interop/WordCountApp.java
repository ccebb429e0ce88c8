package io.silt.interop;

import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.KafkaStreams;

/**
 * StreamsGroupTest's word count as a program of its own, so that the test
 * can kill -9 an instance as a crash kills it: no close, no leave, only
 * its session left to time out on the broker. Arguments: the bootstrap
 * servers and the state directory. It prints its state changes and runs
 * until it is killed; a dead stream thread ends it with status 1.
 */
public final class WordCountApp {
    private WordCountApp() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: WordCountApp BOOTSTRAP STATE_DIR");
            System.exit(2);
        }
        KafkaStreams streams = new KafkaStreams(StreamsTest.wordCount(), StreamsGroupTest.streamsConfig(args[0], args[1]));
        streams.setStateListener((now, before) -> System.out.println("state " + before + " -> " + now));
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            Runtime.getRuntime().halt(1);
            return null;
        });
        streams.start();
        new CountDownLatch(1).await();
    }
}
