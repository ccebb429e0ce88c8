package io.silt.interop;

/** {@link AdminSuite} on a versitygw bucket through silt's s3:// driver. */
class AdminS3Test extends AdminSuite {
    @Override
    Silt.Backend backend() {
        return Silt.Backend.S3;
    }
}
