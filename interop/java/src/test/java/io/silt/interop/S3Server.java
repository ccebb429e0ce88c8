package io.silt.interop;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * versitygw (an S3 server storing into a directory) on a loopback port, one
 * per test JVM, started the way localstack/s3server starts it for the Go
 * tests: fixed root credentials, a random health path only this process
 * answers, --quiet --keep-alive, the posix backend. The bucket is created
 * through the S3 API (versitygw keeps a bucket's owner in extended
 * attributes, so mkdir is not enough) with a request signed here (SigV4).
 */
final class S3Server {

    static final String ACCESS_KEY = "silt-test-access";
    static final String SECRET_KEY = "silt-test-secret-key-0123456789";
    static final String REGION = "us-east-1";
    static final String BUCKET = "silt-interop";

    static final Path BINARY = Path.of(System.getProperty("versitygw.binary", "../../.bin/versitygw")).toAbsolutePath().normalize();

    private static S3Server shared;

    private final Process proc;
    private final String endpoint;

    private S3Server(Process proc, String endpoint) {
        this.proc = proc;
        this.endpoint = endpoint;
    }

    /** The JVM's server, started on first use and stopped when the JVM exits. */
    static synchronized S3Server shared() throws IOException {
        if (shared == null) {
            shared = start();
            S3Server s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::stop));
        }
        return shared;
    }

    Map<String, String> env() {
        return Map.of(
                "AWS_ACCESS_KEY_ID", ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY", SECRET_KEY,
                "AWS_REGION", REGION,
                "SILT_S3_ENDPOINT", endpoint);
    }

    String endpoint() {
        return endpoint;
    }

    private static S3Server start() throws IOException {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException("no versitygw at " + BINARY + " (run `make tools`)");
        }
        Path dir = Silt.WORK.resolve("versitygw-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(dir.resolve("data"));
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = Silt.freePort();
            String addr = "127.0.0.1:" + port;
            String health = "/silt-health-" + UUID.randomUUID().toString().replace("-", "");
            ProcessBuilder pb = new ProcessBuilder(BINARY.toString(),
                    "--access", ACCESS_KEY, "--secret", SECRET_KEY, "--region", REGION,
                    "--port", addr, "--health", health, "--quiet", "--keep-alive",
                    "posix", dir.resolve("data").toString())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("versitygw.log").toFile()));
            pb.environment().keySet().removeIf(k -> k.startsWith("VGW_") || k.startsWith("ROOT_"));
            Process p = pb.start();
            S3Server s = new S3Server(p, "http://" + addr);
            try {
                s.awaitHealthy(health, Duration.ofSeconds(30));
                s.createBucket(BUCKET);
                return s;
            } catch (IOException e) {
                last = e;
                s.stop();
            }
        }
        throw last;
    }

    private void awaitHealthy(String health, Duration timeout) throws IOException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!proc.isAlive()) {
                throw new IOException("versitygw exited with " + proc.exitValue() + " before it was ready");
            }
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(endpoint + health))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            try {
                Thread.sleep(25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        throw new IOException("versitygw at " + endpoint + " not ready after " + timeout);
    }

    /** PUT /bucket, signed with AWS Signature Version 4. */
    private void createBucket(String bucket) throws IOException {
        URI uri = URI.create(endpoint + "/" + bucket);
        String host = uri.getHost() + ":" + uri.getPort();
        ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
        String amzDate = now.format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"));
        String day = amzDate.substring(0, 8);
        String payloadHash = hex(sha256(new byte[0]));
        String signedHeaders = "host;x-amz-content-sha256;x-amz-date";
        String canonical = "PUT\n/" + bucket + "\n\n"
                + "host:" + host + "\n"
                + "x-amz-content-sha256:" + payloadHash + "\n"
                + "x-amz-date:" + amzDate + "\n\n"
                + signedHeaders + "\n" + payloadHash;
        String scope = day + "/" + REGION + "/s3/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n"
                + hex(sha256(canonical.getBytes(StandardCharsets.UTF_8)));
        byte[] key = hmac(("AWS4" + SECRET_KEY).getBytes(StandardCharsets.UTF_8), day);
        key = hmac(key, REGION);
        key = hmac(key, "s3");
        key = hmac(key, "aws4_request");
        String signature = hex(hmac(key, toSign));
        HttpRequest req = HttpRequest.newBuilder(uri)
                .PUT(HttpRequest.BodyPublishers.noBody())
                .header("x-amz-content-sha256", payloadHash)
                .header("x-amz-date", amzDate)
                .header("Authorization", "AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY + "/" + scope
                        + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature)
                .timeout(Duration.ofSeconds(10))
                .build();
        HttpResponse<String> resp;
        try {
            resp = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (resp.statusCode() != 200 && !resp.body().contains("BucketAlreadyOwnedByYou")) {
            throw new IOException("create bucket " + bucket + ": HTTP " + resp.statusCode() + ": " + resp.body());
        }
    }

    void stop() {
        proc.destroy();
        try {
            if (!proc.waitFor(5, TimeUnit.SECONDS)) {
                proc.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
