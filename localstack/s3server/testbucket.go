package s3server

// TestBucket is the bucket test helpers (s3servertest.StartT,
// localstack with S3) create.
const TestBucket = "silt-test"
