package io.silt.interop;

/** {@link ClientSuite} on a versitygw bucket through silt's s3:// driver. */
class ClientS3Test extends ClientSuite {
    @Override
    Silt.Backend backend() {
        return Silt.Backend.S3;
    }
}
