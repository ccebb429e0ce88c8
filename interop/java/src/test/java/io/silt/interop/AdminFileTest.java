package io.silt.interop;

/** {@link AdminSuite} on a file bucket. */
class AdminFileTest extends AdminSuite {
    @Override
    Silt.Backend backend() {
        return Silt.Backend.FILE;
    }
}
