package io.silt.interop;

/** {@link ClientSuite} on a file bucket. */
class ClientFileTest extends ClientSuite {
    @Override
    Silt.Backend backend() {
        return Silt.Backend.FILE;
    }
}
