package io.silt.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/** A JSON-over-HTTP client for the REST APIs of the services the tests start (Connect, a registry). */
final class Rest {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private Rest() {
    }

    /** One answer: the status and the body, parsed when it is JSON. */
    record Answer(int status, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + body, e);
            }
        }

        Answer ok() {
            if (status / 100 != 2) {
                throw new AssertionError("HTTP " + status + ": " + body);
            }
            return this;
        }
    }

    static Answer get(String url) throws IOException, InterruptedException {
        return send(jsonHeaders(HttpRequest.newBuilder(URI.create(url)).GET()));
    }

    static Answer delete(String url) throws IOException, InterruptedException {
        return send(jsonHeaders(HttpRequest.newBuilder(URI.create(url)).DELETE()));
    }

    static Answer put(String url, Object body) throws IOException, InterruptedException {
        return send(jsonHeaders(HttpRequest.newBuilder(URI.create(url)).PUT(json(body))));
    }

    static Answer post(String url, Object body) throws IOException, InterruptedException {
        return send(jsonHeaders(HttpRequest.newBuilder(URI.create(url)).POST(json(body))));
    }

    /** A request with a body already in the form the server wants, and its content type. */
    static Answer send(String method, String url, String contentType, String body, Map<String, String> headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url))
                .method(method, HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", contentType);
        headers.forEach(b::header);
        return send(b);
    }

    private static HttpRequest.BodyPublisher json(Object body) throws IOException {
        return HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : JSON.writeValueAsString(body));
    }

    private static HttpRequest.Builder jsonHeaders(HttpRequest.Builder b) {
        return b.header("Content-Type", "application/json").header("Accept", "application/json");
    }

    private static Answer send(HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(r.statusCode(), r.body());
    }

    /** Whether url answers 2xx now (false while the service is still starting). */
    static boolean up(String url) {
        try {
            return get(url).status() / 100 == 2;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
